"""The courses stream's own HTTP/1.1 server: ``GET /api/v1/courses/stream`` on a port of its
own, in the replica's event loop (HAProxy routes the path to it).

Why not uvicorn: an ASGI app sends each event to each client through a task and ``send``
(the naive per-client loop); here a change is written to each client's transport directly, as
bytes encoded once per query shape (:mod:`gateway.streams`). The server reads one request per
connection, answers errors exactly as the GET does (422 bad query, 503 nothing known yet) and
otherwise keeps the connection as a stream until either side closes it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import cast

from gateway.query import QueryError, Shape, shape_of
from gateway.render import Rendered, render_error
from gateway.responses import rejection
from gateway.sse import RESPONSE_HEAD
from gateway.streams import StreamHub

log = logging.getLogger(__name__)

STREAM_PATH = "/api/v1/courses/stream"
#: The request line and headers must fit (HAProxy's own bound is 8 kB too).
MAX_HEAD = 8192


@dataclass(frozen=True, slots=True)
class Request:
    """What the stream needs of a request."""

    method: str
    path: str
    query: bytes
    last_event_id: str | None


class BadRequest(ValueError):
    """Not an HTTP/1.x request head."""


def parse_head(head: bytes) -> Request:
    """The request line and the ``Last-Event-ID`` header of a request head (no final CRLF)."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise BadRequest("malformed request line")
    method, target = parts[0].decode("latin-1"), parts[1]
    path, _, query = target.partition(b"?")
    last_event_id = None
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise BadRequest("malformed header")
        if name.strip().lower() == b"last-event-id":
            last_event_id = value.strip().decode("latin-1")
    return Request(method, path.decode("latin-1"), query, last_event_id)


def response_bytes(rendered: Rendered) -> bytes:
    """A whole one-off answer (an error), closing the connection after it."""
    reason = HTTPStatus(rendered.status).phrase.encode()
    headers = b"".join(b"%s: %s\r\n" % pair for pair in rendered.headers)
    return b"HTTP/1.1 %d %s\r\n%sconnection: close\r\n\r\n%s" % (
        rendered.status,
        reason,
        headers,
        rendered.body,
    )


NOT_FOUND = render_error(404, "Not Found")
NOT_ALLOWED = render_error(405, "Method Not Allowed", ((b"allow", b"GET"),))
BAD_REQUEST = render_error(400, "Bad Request")
TOO_LARGE = render_error(431, "Request Header Fields Too Large")


class StreamProtocol(asyncio.Protocol):
    """One connection: a request head, then either an error and close, or the stream."""

    __slots__ = ("hub", "timeout", "transport", "head", "shape", "timer")

    def __init__(self, hub: StreamHub, timeout: float) -> None:
        self.hub = hub
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.head = b""
        self.shape: Shape | None = None
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        # A client that never finishes its request is not kept.
        self.timer = asyncio.get_running_loop().call_later(self.timeout, self.transport.abort)

    def data_received(self, data: bytes) -> None:
        if self.shape is not None or self.transport is None or self.transport.is_closing():
            return  # nothing is expected after the request
        self.head += data
        end = self.head.find(b"\r\n\r\n")
        if end < 0:
            if len(self.head) > MAX_HEAD:
                self._reply(TOO_LARGE)
            return
        if self.timer is not None:
            self.timer.cancel()
        head, self.head = self.head[:end], b""
        try:
            request = parse_head(head)
        except BadRequest:
            self._reply(BAD_REQUEST)
            return
        self._serve(request)

    def _serve(self, request: Request) -> None:
        if request.path != STREAM_PATH:
            self._reply(NOT_FOUND)
            return
        if request.method != "GET":
            self._reply(NOT_ALLOWED)
            return
        shape = shape_of(request.query)
        if isinstance(shape, QueryError):
            self._reply(rejection(str(shape)))
            return
        assert self.transport is not None
        rendered = self.hub.subscribe(
            shape, self.transport, request.last_event_id, preamble=RESPONSE_HEAD, chunked=True
        )
        if rendered.status != 200:
            self._reply(rendered)  # nothing known yet: the GET's 503
            return
        self.shape = shape

    def _reply(self, rendered: Rendered) -> None:
        assert self.transport is not None
        self.transport.write(response_bytes(rendered))
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        if self.shape is not None:
            assert self.transport is not None
            self.hub.unsubscribe(self.shape, self.transport)
            self.shape = None


class StreamServer:
    """Listens for stream requests on ``host:port`` (0: any free port) until closed."""

    def __init__(self, hub: StreamHub, host: str, port: int, request_timeout: float) -> None:
        self.hub = hub
        self.host = host
        self.port = port
        self.request_timeout = request_timeout
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen; ``port`` is then the one bound."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: StreamProtocol(self.hub, self.request_timeout),
            self.host,
            self.port,
            backlog=4096,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("courses stream on http://%s:%d%s", self.host, self.port, STREAM_PATH)

    async def close(self) -> None:
        """Stop listening and drop every stream (clients reconnect to another replica)."""
        if self._server is None:
            return
        self._server.close()
        self.hub.close_all()
        await self._server.wait_closed()
        self._server = None
