"""One Binance stream connection's life: ticks out, requests in, pings, limits and endings.

Per connection, concurrently:

* on every market step, one ``24hrMiniTicker`` per subscribed stream, ``E`` stamped with the
  wall clock just before sending (plus one bad frame while ``malformed`` is in force);
* a ping every ping interval; a connection whose pong does not come within the pong timeout is
  closed;
* replies to ``SUBSCRIBE`` and the other live requests; more than the allowed incoming frames
  (pings, pongs and requests alike) in a second closes the connection with 1008;
* after the connection lifetime, a close with 1001; on ``serverShutdown``, the event and then a
  close with 1001 once the grace has passed.

While ``stall`` is in force nothing at all is sent, nothing is read and no timer fires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from common.markets import BINANCE_SYMBOLS
from common.wire import now_ms
from simulator import binance_payloads as payloads
from simulator.binance_streams import Subscriptions, served_symbol
from simulator.faults import BINANCE_WS, MALFORMED, FaultRegistry
from simulator.limits import RollingLimit
from simulator.malformed import bad_frame
from simulator.market import Market

log = logging.getLogger(__name__)

_COUNTED = frozenset({Opcode.TEXT, Opcode.BINARY, Opcode.PING, Opcode.PONG})


@dataclass(frozen=True)
class StreamConfig:
    """Timings and limits every stream connection follows."""

    ping_interval: float
    pong_timeout: float
    lifetime: float
    message_limit: int
    shutdown_grace: float


@dataclass
class Counters:
    """What the stream servers have sent, for the control API."""

    frames: int = 0
    malformed: int = 0
    pings: int = 0


class Session:
    """The simulator's side of one open stream connection."""

    def __init__(
        self,
        ws: ServerConnection,
        *,
        port: int,
        subscriptions: Subscriptions,
        market: Market,
        faults: FaultRegistry,
        config: StreamConfig,
        counters: Counters,
    ) -> None:
        self.ws = ws
        self.port = port
        self.subscriptions = subscriptions
        self._market = market
        self._faults = faults
        self._config = config
        self._counters = counters
        #: the event time of the latest market step not sent yet (a slow client skips steps)
        self._steps: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        self._running = asyncio.Event()
        self._running.set()
        self._incoming = RollingLimit(config.message_limit, 1.0)
        self._tasks: set[asyncio.Task[None]] = set()
        self._bad = 0
        self._ending = False
        self._shutting_down = False
        self.name = f"{BINANCE_WS}:{port} {ws.remote_address}"

    @property
    def stalled(self) -> bool:
        return not self._running.is_set()

    async def run(self) -> None:
        """Serve the connection until it closes."""
        for coroutine in (self._send_ticks(), self._keepalive(), self._expire(), self._read()):
            self._spawn(coroutine)
        try:
            await self.ws.wait_closed()
        finally:
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def ticked(self, event_ms: int) -> None:
        """The market took a step at ``event_ms``."""
        if self._steps.full():
            self._steps.get_nowait()
        self._steps.put_nowait(event_ms)

    def on_frame(self, frame: Frame) -> None:
        """Every frame the client sends, before websockets handles it: the incoming limit."""
        if frame.opcode in _COUNTED and self._incoming.acquire() and not self._ending:
            log.warning(
                "%s sent more than %d messages in a second; disconnecting",
                self.name,
                self._config.message_limit,
            )
            self._end(1008, "Too many requests")

    def stall(self, stalled: bool) -> None:
        """Stop (or resume) sending and reading altogether."""
        if stalled and not self.stalled:
            self._running.clear()
            self.ws.transport.pause_reading()
        elif not stalled and self.stalled:
            self._running.set()
            if not self.ws.transport.is_closing():
                self.ws.transport.resume_reading()

    def shutdown(self) -> None:
        """Send ``serverShutdown`` now and close after the grace."""
        if not self._shutting_down:
            self._shutting_down = True
            self._spawn(self._shut_down())

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(self._guard(coroutine))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _guard(self, coroutine: Coroutine[Any, Any, None]) -> None:
        try:
            await coroutine
        except ConnectionClosed:
            pass
        except Exception:  # pylint: disable=broad-exception-caught
            log.exception("%s failed", self.name)
            self.ws.transport.abort()

    def _end(self, code: int, reason: str) -> None:
        if self._ending:
            return
        self._ending = True
        self._spawn(self.ws.close(code, reason))

    async def _send(self, frame: bytes, malformed: bool = False) -> None:
        await self.ws.send(frame, text=True)
        self._counters.frames += 1
        if malformed:
            self._counters.malformed += 1
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s > %s", self.name, frame.decode(errors="replace"))

    def _event(self, stream: str, data: dict[str, Any]) -> bytes:
        envelope = payloads.combined(stream, data) if self.subscriptions.combined else data
        return payloads.encode(envelope)

    async def _send_ticks(self) -> None:
        while True:
            event_ms = await self._steps.get()
            if self.stalled or self._ending:
                continue
            good = b""
            for stream in list(self.subscriptions.streams):
                symbol = served_symbol(stream)
                if symbol is not None:
                    ticker = self._market.ticker(symbol)
                    good = self._event(stream, payloads.mini_ticker(ticker, event_ms))
                    await self._send(good)
            fault = self._faults.active(BINANCE_WS, self.port)
            if fault is not None and fault.name == MALFORMED:
                if not good:
                    ticker = self._market.ticker(BINANCE_SYMBOLS[0])
                    good = payloads.encode(payloads.mini_ticker(ticker, event_ms))
                _kind, bad = bad_frame(self._bad, good, event_ms, self.subscriptions.combined)
                self._bad += 1
                await self._send(bad, malformed=True)

    async def _read(self) -> None:
        while True:
            await self._running.wait()
            message = await self.ws.recv()
            await self._running.wait()
            if isinstance(message, bytes) or self._ending:
                continue
            await self._send(payloads.encode(self.subscriptions.handle(message)))

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self._config.ping_interval)
            if self.stalled:
                continue
            pong = await self.ws.ping()
            self._counters.pings += 1
            log.debug("%s > ping", self.name)
            self._spawn(self._await_pong(pong))

    async def _await_pong(self, pong: asyncio.Future[float]) -> None:
        done, _ = await asyncio.wait({pong}, timeout=self._config.pong_timeout)
        if done or self.stalled or self._ending:
            return
        log.warning(
            "%s: no pong within %.1f s; disconnecting", self.name, self._config.pong_timeout
        )
        self._end(1008, "Pong timeout")

    async def _expire(self) -> None:
        await asyncio.sleep(self._config.lifetime)
        await self._running.wait()
        log.info("%s reached its %.0f s lifetime; closing", self.name, self._config.lifetime)
        self._end(1001, "Connection lifetime expired")

    async def _shut_down(self) -> None:
        await self._running.wait()
        await self._send(
            self._event(payloads.SERVER_SHUTDOWN_STREAM, payloads.server_shutdown(now_ms()))
        )
        log.info(
            "%s sent serverShutdown; closing in %.1f s", self.name, self._config.shutdown_grace
        )
        await asyncio.sleep(self._config.shutdown_grace)
        await self._running.wait()
        self._end(1001, "Server shutdown")
