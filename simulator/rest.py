"""A REST exchange endpoint: the exchange's API behind a socket the faults can get at.

The API (Binance's or CoinGecko's) answers requests; this layer sits between it and the network
and, while a fault is in force, holds, resets or replaces what it would have sent.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Protocol

from simulator.faults import Fault, FaultRegistry, Skew, no_skew
from simulator.http import MAX_HEAD, Abort, Request, Response, serve
from simulator.malformed import bad_body
from simulator.settings import SimulatorSettings
from simulator.tcp import Listener, reset

log = logging.getLogger(__name__)


class RestApi(Protocol):
    """An exchange's REST API, and how it words the errors the faults make it send."""

    def __call__(self, request: Request, skew: Skew = no_skew) -> Response: ...

    def too_many_requests(self, retry_after: int) -> Response: ...

    def server_error(self, status: int) -> Response: ...


class RestTarget:
    """One REST exchange on one port, with its faults applied."""

    def __init__(
        self, name: str, port: int, api: RestApi, faults: FaultRegistry, settings: SimulatorSettings
    ) -> None:
        self.name = name
        self.api = api
        self._faults = faults
        self._retry_after = settings.sim_fault_retry_after
        self.listener = Listener(name, settings.sim_host, port, self._create_server)
        self._writers: set[asyncio.StreamWriter] = set()
        self._changed = asyncio.Event()
        self._applied: Fault | None = None
        self._stopping = False
        self.responses = 0
        self.malformed = 0
        self.held = 0  #: connections held unanswered by a fault now

    @property
    def connections(self) -> int:
        return len(self._writers)

    async def start(self) -> None:
        await self.listener.open()

    async def stop(self) -> None:
        """Stop listening and reset every connection, held ones included."""
        self._stopping = True
        self.listener.close()
        self._wake()
        for writer in list(self._writers):
            reset(writer.transport)

    async def reconcile(self, fresh: bool = False) -> None:
        """Bring sockets in line with the fault in force; ``fresh`` re-applies it."""
        fault = self._faults.active(self.name)
        if fresh or fault != self._applied:
            self._applied = fault
            self._wake()
            if fault is not None and fault.kind.resets:
                for writer in list(self._writers):
                    reset(writer.transport)
        await self.listener.want(fault is None or not fault.kind.refuses)

    def _wake(self) -> None:
        """Let held connections look at the faults again."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def _create_server(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._connected, host, port, limit=MAX_HEAD)

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            fault = self._faults.active(self.name)
            if fault is not None and fault.kind.resets:
                reset(writer.transport)
                return
            if fault is not None and fault.kind.holds:
                await self._hold()
            await serve(reader, writer, self._handle)
        except Abort:
            reset(writer.transport)
        finally:
            self._writers.discard(writer)

    async def _hold(self) -> None:
        """Answer nothing until the holding fault ends; then reset the connection."""
        self.held += 1
        try:
            while (fault := self._faults.active(self.name)) is not None and not self._stopping:
                if not (fault.kind.holds or fault.kind.stalls):
                    break
                await self._changed.wait()
        finally:
            self.held -= 1
        raise Abort

    async def _handle(self, request: Request) -> Response:
        fault = self._faults.active(self.name)
        kind = fault.kind if fault is not None else None
        if kind is not None and (kind.holds or kind.stalls):
            await self._hold()
        if kind is not None and kind.resets:
            raise Abort
        if fault is not None and fault.status == 429:
            remaining = fault.remaining(self._faults.now())
            retry = self._retry_after if remaining is None else max(1, math.ceil(remaining))
            response = self.api.too_many_requests(retry)
        elif fault is not None and fault.status is not None:
            response = self.api.server_error(fault.status)
        else:
            response = self.api(request, no_skew if fault is None else fault.factor)
            if kind is not None and kind.malformed:
                _, body, content_type = bad_body(self.malformed, response.body)
                self.malformed += 1
                response = Response(200, body, content_type, response.headers)
        self.responses += 1
        log.debug("%s %s %s -> %d", self.name, request.method, request.target, response.status)
        return response
