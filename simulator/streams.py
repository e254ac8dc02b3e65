"""Binance's websocket stream servers: one listener per stream host, faults per port.

Connections are served by ``websockets.asyncio.server``, but every TCP connection is first seen
by :class:`GatedConnection`, so the faults act below the websocket layer: one that ``resets``
resets a connection before its handshake, one that ``holds`` accepts it and never reads it, one
that ``refuses`` closes the listening socket, one with a ``status`` refuses the opening
handshake with it. Only combined streams (``/stream?streams=...``) are served; other paths get
404.

Per open connection (a :class:`Session`), concurrently:

* on every market step, one ``24hrMiniTicker`` per subscribed stream that has data, ``E`` the
  step's time (plus one bad frame while a ``malformed`` fault is in force);
* a ping every ping interval; a connection whose pong does not come within the pong timeout is
  closed with 1008;
* after the connection lifetime, a close with 1001; on a ``shuts_down`` fault, the
  ``serverShutdown`` event and, once the grace has passed, a close with 1001.

While a ``stalls`` fault is in force nothing at all is sent, nothing is read and no timer fires.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Coroutine
from typing import Any, cast

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from common.markets import BINANCE_WS
from common.wire import now_ms
from simulator import binance
from simulator.faults import Fault, FaultRegistry, no_skew
from simulator.malformed import bad_frame
from simulator.market import Market
from simulator.settings import SimulatorSettings
from simulator.tcp import Listener, reset

log = logging.getLogger(__name__)


class Session:  # pylint: disable=too-many-instance-attributes
    """The simulator's side of one open stream connection."""

    def __init__(self, ws: ServerConnection, port: StreamPort, streams: tuple[str, ...]) -> None:
        self.ws = ws
        self.port = port
        self.streams = streams
        self._settings = port.owner.settings
        #: the event time of the latest market step not sent yet (a slow client skips steps)
        self._steps: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
        self._running = asyncio.Event()
        self._running.set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._bad = 0
        self._ending = False
        self._shutting_down = False
        self.name = f"{BINANCE_WS}:{port.listener.port} {ws.remote_address}"

    @property
    def stalled(self) -> bool:
        return not self._running.is_set()

    async def run(self) -> None:
        """Serve the connection until it closes."""
        for coroutine in (self._send_ticks(), self._keepalive(), self._expire(), self._drain()):
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

    def apply(self, fault: Fault | None) -> None:
        """Stall or resume, and announce a shutdown, as ``fault`` says."""
        stalled = fault is not None and fault.kind.stalls
        transport = self.ws.transport
        if stalled and not self.stalled:
            self._running.clear()
            transport.pause_reading()
        elif not stalled and self.stalled:
            self._running.set()
            if not transport.is_closing():
                transport.resume_reading()
        if fault is not None and fault.kind.shuts_down and not self._shutting_down:
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
        if not self._ending:
            self._ending = True
            self._spawn(self.ws.close(code, reason))

    async def _send(self, frame: bytes, malformed: bool = False) -> None:
        await self.ws.send(frame, text=True)
        owner = self.port.owner
        owner.frames += 1
        owner.malformed += int(malformed)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s > %s", self.name, frame.decode(errors="replace"))

    async def _send_ticks(self) -> None:
        market = self.port.owner.market
        while True:
            event_ms = await self._steps.get()
            if self.stalled or self._ending:
                continue
            good = b""
            fault = self.port.fault()
            skew = no_skew if fault is None else fault.factor
            for stream in self.streams:
                if (symbol := binance.SERVED.get(stream)) is not None:
                    data = binance.mini_ticker(market.ticker(symbol), event_ms, skew)
                    good = binance.encode(binance.combined(stream, data))
                    await self._send(good)
            if good and fault is not None and fault.kind.malformed:
                _, bad = bad_frame(self._bad, good, event_ms)
                self._bad += 1
                await self._send(bad, malformed=True)

    async def _drain(self) -> None:
        """Read (and ignore) what the client sends, so its pongs are seen."""
        while True:
            await self._running.wait()
            await self.ws.recv()

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self._settings.sim_ping_interval)
            if self.stalled:
                continue
            pong = await self.ws.ping()
            self.port.owner.pings += 1
            log.debug("%s > ping", self.name)
            self._spawn(self._await_pong(pong))

    async def _await_pong(self, pong: Awaitable[float]) -> None:
        waiter = asyncio.ensure_future(pong)
        done, _ = await asyncio.wait({waiter}, timeout=self._settings.sim_pong_timeout)
        if done or self.stalled or self._ending:
            return
        log.warning(
            "%s: no pong within %.1f s; disconnecting", self.name, self._settings.sim_pong_timeout
        )
        self._end(1008, "Pong timeout")

    async def _expire(self) -> None:
        await asyncio.sleep(self._settings.sim_connection_lifetime)
        await self._running.wait()
        log.info("%s reached its lifetime; closing", self.name)
        self._end(1001, "Connection lifetime expired")

    async def _shut_down(self) -> None:
        await self._running.wait()
        await self._send(binance.encode(binance.server_shutdown(now_ms())))
        grace = self._settings.sim_shutdown_grace
        log.info("%s sent serverShutdown; closing in %.1f s", self.name, grace)
        await asyncio.sleep(grace)
        await self._running.wait()
        self._end(1001, "Server shutdown")


class GatedConnection(ServerConnection):
    """A websockets server connection that its port may hold or reset before any handshake;
    each :class:`StreamPort` serves a subclass naming it (:func:`gated_by`)."""

    port: StreamPort

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bypassed = False
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.port.connections.add(self)
        fault = self.port.fault()
        if fault is None or not (fault.kind.resets or fault.kind.holds):
            super().connection_made(transport)
            return
        # websockets never hears of this connection: no handshake, no handler.
        self.bypassed = True
        self.transport = cast(asyncio.Transport, transport)
        if fault.kind.resets:
            reset(transport)
        else:
            self.port.held.add(self)

    def data_received(self, data: bytes) -> None:
        if not self.bypassed:
            super().data_received(data)

    def eof_received(self) -> None:
        if self.bypassed:
            self.transport.close()
        else:
            super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.port.connections.discard(self)
        self.port.held.discard(self)
        if not self.bypassed:
            super().connection_lost(exc)


def gated_by(port: StreamPort) -> type[GatedConnection]:
    """The connection class of ``port``'s server."""
    return type("GatedConnection", (GatedConnection,), {"port": port})


class StreamPort:
    """One stream host: its listener, its connections and the fault applied to them."""

    def __init__(self, owner: BinanceStreams, host: str, port: int) -> None:
        self.owner = owner
        self.listener = Listener(BINANCE_WS, host, port, self._create_server)
        self.connections: set[GatedConnection] = set()
        self.held: set[GatedConnection] = set()
        self.sessions: set[Session] = set()
        self._servers: list[Server] = []
        self._applied: Fault | None = None

    def fault(self) -> Fault | None:
        return self.owner.faults.active(BINANCE_WS, self.listener.port)

    async def reconcile(self, fresh: bool = False) -> None:
        """Bring sockets and sessions in line with the fault in force; ``fresh`` re-applies it."""
        fault = self.fault()
        if fresh or fault != self._applied:
            old, self._applied = self._applied, fault
            if old is not None and old.kind.holds and not (fault and fault.kind.holds):
                for connection in list(self.held):
                    reset(connection.transport)
            if fault is not None and fault.kind.resets:
                for connection in list(self.connections):
                    reset(connection.transport)
            for session in list(self.sessions):
                session.apply(fault)
        await self.listener.want(fault is None or not fault.kind.refuses)

    async def stop(self) -> None:
        """Stop listening; close sessions with 1001, then reset whatever is left."""
        self.listener.close()
        closing = [
            asyncio.create_task(session.ws.close(1001, "Server stopping"))
            for session in self.sessions
            if not session.stalled  # a stalled one reads no close frame: it is reset below
        ]
        if closing:
            await asyncio.wait(closing, timeout=1.0)
        for connection in list(self.connections):
            reset(connection.transport)

    async def _create_server(self, host: str, port: int) -> asyncio.Server:
        server = await serve(
            self._handle,
            host,
            port,
            process_request=self._process_request,
            create_connection=gated_by(self),
            compression=None,
            server_header=None,
            ping_interval=None,
            ping_timeout=None,
            close_timeout=2,
            max_size=65536,
        )
        self._servers.append(server)
        return server.server

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        fault = self.fault()
        if fault is not None and fault.status is not None:
            response = connection.respond(fault.status, f"{fault.name}\n")
            if fault.status == 429:
                remaining = fault.remaining(self.owner.faults.now())
                retry = (
                    self.owner.settings.sim_fault_retry_after
                    if remaining is None
                    else math.ceil(remaining)
                )
                response.headers["Retry-After"] = str(max(1, retry))
            return response
        if binance.requested_streams(request.path) is None:
            return connection.respond(404, "Not Found\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        streams = binance.requested_streams(connection.request.path) or ()
        session = Session(connection, self, streams)
        self.sessions.add(session)
        session.apply(self.fault())
        log.info("%s opened %s", session.name, connection.request.path)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            reason = f": {connection.close_reason}" if connection.close_reason else ""
            log.info("%s closed (%s%s)", session.name, connection.close_code, reason)


class BinanceStreams:
    """Binance's stream servers, one :class:`StreamPort` per host, and what they have sent."""

    def __init__(self, settings: SimulatorSettings, market: Market, faults: FaultRegistry) -> None:
        self.settings = settings
        self.market = market
        self.faults = faults
        self.ports = [StreamPort(self, settings.sim_host, port) for port in settings.ws_ports]
        self.frames = 0
        self.malformed = 0
        self.pings = 0

    @property
    def connections(self) -> int:
        return sum(len(port.connections) for port in self.ports)

    def bound(self) -> tuple[int, ...]:
        return tuple(port.listener.port for port in self.ports)

    async def start(self) -> None:
        for port in self.ports:
            await port.listener.open()

    async def stop(self) -> None:
        await asyncio.gather(*(port.stop() for port in self.ports))

    async def reconcile(self, fresh: bool = False, port: int | None = None) -> None:
        """Apply the faults in force on every port; ``fresh`` re-applies them (on ``port``)."""
        for stream_port in self.ports:
            await stream_port.reconcile(fresh and port in (None, stream_port.listener.port))

    def tick(self, event_ms: int) -> None:
        """The market took a step at ``event_ms``: every session sends its tickers, all
        stamped with that one event time, as Binance stamps an event whichever host sends it."""
        for port in self.ports:
            for session in port.sessions:
                session.ticked(event_ms)
