"""Binance market data over websockets: one combined stream, kept alive without gaps.

* endpoints tried in turn, the next one after every failure, paced by a jittered, capped backoff
  that resets once a connection delivers data, and by an attempt budget (Binance allows 300
  connection attempts per 5 minutes per IP);
* a watchdog: a connection with no good message for ``stall_seconds`` is replaced;
* ``serverShutdown`` and the 24 h lifetime: a replacement is opened first and the old connection
  closed only once the new one delivers, so the tick stream has no gap;
* streams named in the URL and no messages of our own, so Binance's 5 incoming messages per
  second limit only ever sees our pongs.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection, connect

from common.backoff import Backoff, SlidingWindowLimit
from common.logs import Throttle
from common.markets import BINANCE_SYMBOLS, combined_stream_path
from common.wire import now_ms
from feeder.health import FeedHealth
from feeder.parsers import MalformedMessage, Quote, ServerShutdown, parse_binance_stream
from feeder.publisher import Publisher
from feeder.settings import FeederSettings

log = logging.getLogger(__name__)


def stream_url(base: str, symbols: Sequence[str] = BINANCE_SYMBOLS) -> str:
    """The combined-stream URL for ``symbols`` on one endpoint."""
    return base.rstrip("/") + combined_stream_path(symbols)


class StreamStalled(Exception):
    """No good message within the watchdog's threshold."""


#: What one connection attempt or one connection may end with; anything else is a bug.
CONNECTION_ERRORS = (OSError, TimeoutError, websockets.WebSocketException, StreamStalled)


class _Connection:
    """One open websocket and the task that reads it into the publisher."""

    def __init__(self, feed: BinanceWsFeed, ws: ClientConnection, url: str) -> None:
        self.ws = ws
        self.url = url
        self.replace_at = time.monotonic() + feed.rotate_after
        self.live = asyncio.Event()  #: set on the first good message
        self.shutdown_announced = asyncio.Event()
        self.reader = asyncio.create_task(feed.read(self), name=f"read {url}")

    async def close(self) -> None:
        self.reader.cancel()
        await asyncio.gather(self.reader, return_exceptions=True)
        await self.ws.close()


class BinanceWsFeed:
    """Keeps one live combined stream open across failures, stalls, shutdowns and rotation."""

    def __init__(self, settings: FeederSettings, publisher: Publisher, health: FeedHealth) -> None:
        self.urls = [stream_url(base) for base in settings.binance_ws_urls]
        self.stall_seconds = settings.binance_ws_stall_seconds
        self.rotate_after = settings.binance_ws_rotate_after
        self.open_timeout = settings.feeder_http_timeout
        self.publisher = publisher
        self.health = health
        self.backoff = Backoff(settings.feeder_backoff_base, settings.feeder_backoff_cap)
        self.attempts = SlidingWindowLimit(
            settings.binance_ws_max_connects, settings.binance_ws_connects_window
        )
        self._next_url = 0
        self._malformed_log = Throttle(10.0)
        self._opened = 0
        self._background: set[asyncio.Task[None]] = set()
        #: why the next connection is needed, for the reconnect metrics
        self._reason = "start"

    async def run(self) -> None:
        """Run until cancelled."""
        current: _Connection | None = None
        try:
            while True:
                if current is None:
                    current = await self._open_live()
                current = await self._follow(current)
        finally:
            self.health.connected = False
            if current is not None:
                await current.close()
            # The connections being closed in the background finish closing too.
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _follow(self, current: _Connection) -> _Connection | None:
        """Wait for ``current`` to end or need replacing; return what to follow next."""
        shutdown = asyncio.ensure_future(current.shutdown_announced.wait())
        try:
            await asyncio.wait(
                (current.reader, shutdown),
                timeout=max(0.0, current.replace_at - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            shutdown.cancel()
        if current.reader.done():
            self._lost(current)
            return None
        self._reason = "serverShutdown" if current.shutdown_announced.is_set() else "rotation"
        replacement = await self._replace(current.url, self._reason)
        if replacement is None:
            # Keep reading the old connection (it may live a while yet) and try again shortly.
            current.replace_at = time.monotonic() + self.backoff.next_delay()
            current.shutdown_announced.clear()
            return current
        self._in_background(current.close())
        return replacement

    def _in_background(self, closing: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(closing)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _lost(self, connection: _Connection) -> None:
        error = connection.reader.exception() if not connection.reader.cancelled() else None
        self.health.connected = False
        if isinstance(error, StreamStalled):
            self.health.stalls += 1
            self._reason = "stall"
            log.warning("%s: %s; reconnecting", connection.url, error)
        elif isinstance(error, websockets.ConnectionClosedOK):
            self._reason = "closed"
            log.warning("%s: closed by the server: %s; reconnecting", connection.url, error)
        else:
            self._reason = "lost"
            log.error("%s: connection lost: %s", connection.url, _describe(error))
        self._in_background(connection.ws.close())
        self._next_url += 1

    async def _replace(self, url: str, reason: str) -> _Connection | None:
        """Open a replacement next to the connection in use; ``None`` if it did not go live."""
        log.info("%s: opening a replacement connection (%s)", url, reason)
        try:
            return await self._attempt(url)
        except CONNECTION_ERRORS as error:
            log.error("%s: replacement failed: %s", url, _describe(error))
            return None

    async def _open_live(self) -> _Connection:
        """Try endpoints in turn until one delivers data."""
        while True:
            url = self.urls[self._next_url % len(self.urls)]
            try:
                connection = await self._attempt(url)
            except CONNECTION_ERRORS as error:
                self._next_url += 1
                delay = self.backoff.next_delay()
                log.error("%s: %s; next attempt in %.2f s", url, _describe(error), delay)
                await asyncio.sleep(delay)
                continue
            self.backoff.reset()
            return connection

    async def _attempt(self, url: str) -> _Connection:
        """Connect to ``url`` and wait for its first good message."""
        while (wait := self.attempts.acquire(time.monotonic())) > 0:
            log.warning("connection attempt budget spent; waiting %.1f s", wait)
            await asyncio.sleep(wait)
        ws = await connect(
            url,
            open_timeout=self.open_timeout,
            ping_interval=None,  # the data watchdog is stricter; our pings would count as messages
            close_timeout=1.0,
            compression=None,
            max_queue=64,
        )
        connection = _Connection(self, ws, url)
        live = asyncio.ensure_future(connection.live.wait())
        try:
            await asyncio.wait(
                (live, connection.reader),
                timeout=self.stall_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        except asyncio.CancelledError:
            # Stopping while a connection is being tried: it goes too, reader and all.
            await connection.close()
            raise
        finally:
            live.cancel()
        if not connection.live.is_set():
            error = _reader_error(connection.reader)
            await connection.close()
            raise error or StreamStalled(f"no data within {self.stall_seconds} s of connecting")
        self._opened += 1
        if self._opened > 1:
            self.health.reconnected(self._reason)
        self.health.connected = True
        self.health.endpoint = url
        log.info("%s: connected and receiving", url)
        return connection

    async def read(self, connection: _Connection) -> None:
        """Publish every good message of ``connection``; raise when it stalls or closes."""
        ws = connection.ws
        last_good = time.monotonic()
        while True:
            remaining = last_good + self.stall_seconds - time.monotonic()
            try:
                async with asyncio.timeout(max(remaining, 0.0)):
                    frame = await ws.recv()
            except TimeoutError:
                raise StreamStalled(f"no data for {self.stall_seconds} s") from None
            received_ts = now_ms()
            try:
                parsed = parse_binance_stream(frame)
            except MalformedMessage as error:
                self._malformed(error)
                continue
            if isinstance(parsed, Quote):
                if not self.publisher.publish((parsed,), received_ts):
                    continue
                self.health.message_received()
                last_good = time.monotonic()
                connection.live.set()
            elif isinstance(parsed, ServerShutdown):
                log.warning("%s: serverShutdown announced", connection.url)
                connection.shutdown_announced.set()

    def _malformed(self, error: MalformedMessage) -> None:
        self.health.malformed += 1
        held = self._malformed_log.held_back_if_due()
        if held is not None:
            log.warning("dropped a malformed message (%d more since last report): %s", held, error)


def _reader_error(reader: asyncio.Task[None]) -> BaseException | None:
    if reader.done() and not reader.cancelled():
        return reader.exception()
    return None


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "closed"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
