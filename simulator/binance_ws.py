"""Binance's websocket stream servers: one listener per stream host, faults per port.

Connections are served by ``websockets.asyncio.server``, but every TCP connection is first seen
by :class:`GatedConnection`, so the faults act below the websocket layer: ``drop`` resets a
connection before its handshake, ``hang`` accepts one and never reads it, ``refuse`` closes the
listening socket. ``429`` and ``5xx`` refuse the opening handshake with that HTTP status; the
rest (``stall``, ``malformed``, ``shutdown``) is each connection's :class:`Session`'s business.
Paths other than ``/ws...`` and ``/stream...`` are refused with 404.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import math
from typing import Any, cast

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.frames import Frame
from websockets.http11 import Request, Response

from simulator.binance_session import Counters, Session, StreamConfig
from simulator.binance_streams import Subscriptions, UnknownPath, parse_path
from simulator.faults import (
    BINANCE_WS,
    DROP,
    HANG,
    REFUSE,
    SERVER_ERROR,
    SHUTDOWN,
    STALL,
    TOO_MANY_REQUESTS,
    Fault,
    FaultRegistry,
)
from simulator.market import Market
from simulator.tcp import Listener, reset

log = logging.getLogger(__name__)

_CUTTING = frozenset({DROP, REFUSE})


class Verdict(enum.Enum):
    """What happens to a new TCP connection."""

    ADMIT = "admit"
    HOLD = "hold"
    DROP = "drop"


class GatedConnection(ServerConnection):
    """A websockets server connection that its port may hold or reset before any handshake."""

    def __init__(self, *args: Any, port: StreamPort, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.port = port
        self.bypassed = False
        self.session: Session | None = None
        self.transport: asyncio.Transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        verdict = self.port.admit(self)
        if verdict is Verdict.ADMIT:
            super().connection_made(transport)
            return
        # websockets never hears of this connection: no handshake, no handler.
        self.bypassed = True
        self.transport = cast(asyncio.Transport, transport)
        if verdict is Verdict.DROP:
            reset(transport)

    def data_received(self, data: bytes) -> None:
        if not self.bypassed:
            super().data_received(data)

    def eof_received(self) -> None:
        if self.bypassed:
            self.transport.close()
            return
        super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.port.forget(self)
        if not self.bypassed:
            super().connection_lost(exc)

    def process_event(self, event: Any) -> None:
        if self.session is not None and isinstance(event, Frame):
            self.session.on_frame(event)
        super().process_event(event)


class StreamPort:
    """One stream host: its listener, its connections and the fault applied to them."""

    def __init__(self, streams: BinanceStreams, host: str, port: int) -> None:
        self.streams = streams
        self.number = port
        self.listener = Listener(f"{BINANCE_WS}:{port}", host, port, self._create_server)
        self.connections: set[GatedConnection] = set()
        self.held: set[GatedConnection] = set()
        self.sessions: set[Session] = set()
        self._servers: list[Server] = []
        self._applied: str | None = None

    def fault(self) -> Fault | None:
        return self.streams.faults.active(BINANCE_WS, self.number)

    def admit(self, connection: GatedConnection) -> Verdict:
        """Track a new TCP connection and say whether websockets may have it."""
        self.connections.add(connection)
        fault = self.fault()
        if fault is not None and fault.name in _CUTTING:
            return Verdict.DROP
        if fault is not None and fault.name == HANG:
            self.held.add(connection)
            return Verdict.HOLD
        return Verdict.ADMIT

    def forget(self, connection: GatedConnection) -> None:
        self.connections.discard(connection)
        self.held.discard(connection)

    async def reconcile(self, fresh: bool = False) -> None:
        """Bring sockets and sessions in line with the fault in force; ``fresh`` re-applies it."""
        fault = self.fault()
        name = fault.name if fault else None
        if fresh or name != self._applied:
            old, self._applied = self._applied, name
            if old == HANG and name != HANG:
                for connection in list(self.held):
                    reset(connection.transport)
            if name in _CUTTING:
                for connection in list(self.connections):
                    reset(connection.transport)
            for session in list(self.sessions):
                session.stall(name == STALL)
                if name == SHUTDOWN:
                    session.shutdown()
        await self.listener.want(name != REFUSE)

    async def stop(self) -> None:
        """Stop listening; close sessions with 1001, then reset whatever is left."""
        self.listener.close()
        closing = [
            asyncio.create_task(session.ws.close(1001, "Server stopping"))
            for session in self.sessions
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
            create_connection=functools.partial(GatedConnection, port=self),
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
        if fault is not None and fault.name == TOO_MANY_REQUESTS:
            remaining = fault.remaining(self.streams.faults.now())
            retry = self.streams.retry_after if remaining is None else max(1, math.ceil(remaining))
            response = connection.respond(429, "Too many requests\n")
            response.headers["Retry-After"] = str(retry)
            return response
        if fault is not None and fault.name == SERVER_ERROR:
            return connection.respond(fault.status, "Service unavailable\n")
        try:
            parse_path(request.path)
        except UnknownPath:
            return connection.respond(404, "Not Found\n")
        return None

    async def _handle(self, connection: ServerConnection) -> None:
        assert isinstance(connection, GatedConnection) and connection.request is not None
        request = parse_path(connection.request.path)
        session = self.streams.open_session(connection, self.number, Subscriptions(request))
        connection.session = session
        self.sessions.add(session)
        fault = self.fault()
        session.stall(fault is not None and fault.name == STALL)
        if fault is not None and fault.name == SHUTDOWN:
            session.shutdown()
        log.info("%s opened %s", session.name, connection.request.path)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            reason = connection.close_reason
            code = connection.close_code
            log.info("%s closed (%s%s)", session.name, code, f": {reason}" if reason else "")


class BinanceStreams:
    """Binance's stream servers, one :class:`StreamPort` per host."""

    name = BINANCE_WS

    def __init__(
        self,
        host: str,
        ports: tuple[int, ...],
        market: Market,
        faults: FaultRegistry,
        config: StreamConfig,
        retry_after: int,
    ) -> None:
        self.market = market
        self.faults = faults
        self.config = config
        self.retry_after = retry_after
        self.counters = Counters()
        self.ports = {port: StreamPort(self, host, port) for port in ports}

    @property
    def connections(self) -> int:
        return sum(len(port.connections) for port in self.ports.values())

    def open_session(
        self, connection: ServerConnection, port: int, subscriptions: Subscriptions
    ) -> Session:
        return Session(
            connection,
            port=port,
            subscriptions=subscriptions,
            market=self.market,
            faults=self.faults,
            config=self.config,
            counters=self.counters,
        )

    async def start(self) -> None:
        for port in self.ports.values():
            await port.listener.open()

    async def stop(self) -> None:
        await asyncio.gather(*(port.stop() for port in self.ports.values()))

    async def reconcile(self, fresh: bool = False, port: int | None = None) -> None:
        """Apply the faults in force on every port; ``fresh`` re-applies them (on ``port``)."""
        for number, stream_port in self.ports.items():
            await stream_port.reconcile(fresh and port in (None, number))

    def tick(self, event_ms: int) -> None:
        """The market took a step at ``event_ms``: every session sends its tickers, all
        stamped with that one event time, as Binance stamps an event whichever host sends it."""
        for port in self.ports.values():
            for session in port.sessions:
                session.ticked(event_ms)
