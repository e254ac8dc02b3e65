"""REST polling shared by the Binance REST and CoinGecko feeders.

One request per interval for every instrument; ``429`` and ``418`` are honoured through
``Retry-After``; failures back off with jitter; a hung server costs one timeout, not the feed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from common.backoff import Backoff
from common.logs import Throttle
from common.wire import now_ms
from feeder.health import FeedHealth
from feeder.parsers import MalformedMessage, Quote
from feeder.publisher import Publisher

log = logging.getLogger(__name__)

#: Statuses that mean "slow down": Binance answers 418 once an IP ignored its 429s.
RATE_LIMITED = frozenset({429, 418})


@dataclass(frozen=True)
class PollTarget:
    """One exchange endpoint polled for every instrument at once."""

    url: str
    params: Mapping[str, str]
    #: ``(body, asked_ts) -> quotes``, ``asked_ts`` being when the request was sent;
    #: raises ``MalformedMessage``.
    parse: Callable[[bytes, int], list[Quote]]
    headers: Mapping[str, str] = field(default_factory=dict)


def retry_after_seconds(headers: httpx.Headers, default: float) -> float:
    """``Retry-After`` in seconds (Binance and CoinGecko send seconds), else ``default``."""
    value = headers.get("retry-after", "")
    try:
        return max(float(value), 0.0)
    except ValueError:
        return default


class Poller:
    """Polls one target until cancelled, publishing what it answers."""

    def __init__(
        self,
        target: PollTarget,
        interval: float,
        timeout: float,
        backoff: Backoff,
        publisher: Publisher,
        health: FeedHealth,
    ) -> None:
        self.target = target
        self.interval = interval
        self.timeout = timeout
        self.backoff = backoff
        self.publisher = publisher
        self.health = health
        self._malformed_log = Throttle(10.0)
        self._succeeded_once = False

    async def run(self) -> None:
        """Poll until cancelled."""
        self.health.endpoint = self.target.url
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            headers=dict(self.target.headers),
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=1),
            trust_env=False,
        ) as client:
            try:
                while True:
                    started = time.monotonic()
                    delay = await self.poll_once(client)
                    await asyncio.sleep(max(0.0, started + delay - time.monotonic()))
            finally:
                self.health.connected = False

    async def poll_once(self, client: httpx.AsyncClient) -> float:
        """One request; returns the seconds from its start to the next one."""
        asked_ts = now_ms()
        try:
            response = await client.get(self.target.url, params=self.target.params)
        except httpx.HTTPError as error:
            return self._failed(f"{type(error).__name__}: {error}".rstrip(": "))
        received_ts = now_ms()
        if response.status_code in RATE_LIMITED:
            self.health.rate_limited += 1
            wait = max(retry_after_seconds(response.headers, 0.0), self.backoff.next_delay())
            self.health.connected = False
            log.warning(
                "%s answered %d; waiting %.1f s", self.target.url, response.status_code, wait
            )
            return wait
        if response.status_code != 200:
            return self._failed(f"HTTP {response.status_code}")
        try:
            quotes = self.target.parse(response.content, asked_ts)
            if not self.publisher.publish(quotes, received_ts):
                raise MalformedMessage("the answer holds none of our instruments")
        except MalformedMessage as error:
            self.health.malformed += 1
            held = self._malformed_log.held_back_if_due()
            if held is not None:
                log.warning(
                    "dropped a malformed answer (%d more since last report): %s", held, error
                )
            return self.interval
        self.health.message_received()
        if not self.health.connected:
            if self._succeeded_once:
                self.health.reconnected("recovered")
            log.info("%s answering", self.target.url)
        self.health.connected = True
        self._succeeded_once = True
        self.backoff.reset()
        return self.interval

    def _failed(self, reason: str) -> float:
        self.health.connected = False
        # Never faster than the usual cadence (up to 5 s): a failing exchange is not hammered.
        delay = max(self.backoff.next_delay(), min(self.interval, 5.0))
        log.error("%s: %s; retrying in %.2f s", self.target.url, reason, delay)
        return delay
