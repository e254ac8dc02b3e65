"""TCP-level control shared by the simulated endpoints: reset a connection, close and reopen a port.

``refuse`` needs a port that stops listening and comes back; ``drop`` needs a connection that
ends the way a crashed peer's does, with a reset and no goodbye (no close frame, no HTTP answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import cast

from common.logs import Throttle

log = logging.getLogger(__name__)

_LINGER_RESET = struct.pack("ii", 1, 0)


def reset(transport: asyncio.BaseTransport | None) -> None:
    """Abort a connection with a TCP reset: the peer reads ECONNRESET, not a clean end."""
    if transport is None or transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # A zero linger makes close() send RST instead of FIN.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
    cast(asyncio.Transport, transport).abort()


ServerFactory = Callable[[str, int], Awaitable[asyncio.Server]]


class Listener:
    """One listening port that can stop listening (connections refused) and start again.

    Port 0 binds any free port; :attr:`port` is the one bound from then on, so a port that
    stopped listening comes back where it was.
    """

    def __init__(self, name: str, host: str, port: int, create: ServerFactory) -> None:
        self.name = name
        self.host = host
        self.port = port
        self._create = create
        self._server: asyncio.Server | None = None
        self._errors = Throttle(10.0)

    @property
    def listening(self) -> bool:
        return self._server is not None

    async def open(self) -> None:
        """Listen; raises ``OSError`` if the port cannot be bound."""
        if self._server is None:
            self._server = await self._create(self.host, self.port)
            self.port = self._server.sockets[0].getsockname()[1]
            log.debug("%s listening on %s:%d", self.name, self.host, self.port)

    async def want(self, listening: bool) -> None:
        """Listen or not; a port that cannot be bound again is logged and retried next time."""
        if not listening:
            self.close()
        elif self._server is None:
            try:
                await self.open()
            except OSError as error:
                if self._errors.held_back_if_due() is not None:
                    log.error("%s cannot listen again on %d: %s", self.name, self.port, error)

    def close(self) -> None:
        """Stop listening; connections already accepted are left to their owner."""
        if self._server is not None:
            self._server.close()
            self._server = None
            log.debug("%s stopped listening on %s:%d", self.name, self.host, self.port)
