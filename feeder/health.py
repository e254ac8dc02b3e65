"""What a feeder knows about its own health, turned into ``Status`` heartbeats."""

from __future__ import annotations

import time
from collections.abc import Callable

from common.markets import BINANCE_REST, BINANCE_WS, COINGECKO_REST
from common.wire import Status, now_ms

#: Why each transport replaces a connection.
RECONNECT_REASONS: dict[str, tuple[str, ...]] = {
    BINANCE_WS: ("stall", "lost", "closed", "rotation", "serverShutdown"),
    BINANCE_REST: ("recovered",),
    COINGECKO_REST: ("recovered",),
}


class FeedHealth:
    """Counters and connection state of one feeder, updated by its transport."""

    def __init__(
        self,
        source: str,
        transport: str,
        feeder_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.transport = transport
        self.feeder_id = feeder_id
        self._clock = clock
        self.connected = False
        self.endpoint = ""
        self.messages = 0
        self.ticks = 0
        #: malformed or unknown exchange messages (or quotes) dropped
        self.malformed = 0
        self.reconnects = 0
        self.stalls = 0
        self.rate_limited = 0
        #: why connections were replaced; every reason present from the start, at 0, so a
        #: dashboard shows a flat line rather than no data
        self.reconnect_reasons: dict[str, int] = dict.fromkeys(RECONNECT_REASONS[transport], 0)
        self._last_message_at: float | None = None

    def message_received(self) -> None:
        """A good exchange message arrived."""
        self.messages += 1
        self._last_message_at = self._clock()

    def reconnected(self, reason: str) -> None:
        """A new connection replaced one that ended for ``reason``."""
        self.reconnects += 1
        self.reconnect_reasons[reason] = self.reconnect_reasons.get(reason, 0) + 1

    def last_message_age(self) -> float | None:
        """Seconds since the last good message, or ``None`` before the first."""
        if self._last_message_at is None:
            return None
        return self._clock() - self._last_message_at

    def status(self) -> Status:
        age = self.last_message_age()
        return Status(
            source=self.source,
            transport=self.transport,
            feeder_id=self.feeder_id,
            sent_ts=now_ms(),
            connected=self.connected,
            last_message_age_ms=None if age is None else int(age * 1000),
            messages=self.messages,
            ticks=self.ticks,
            malformed=self.malformed,
            reconnects=self.reconnects,
            endpoint=self.endpoint,
        )
