"""A small HTTP/1.1 server on asyncio streams, for endpoints whose sockets the simulator controls.

A framework would hide the sockets; the faults need them (hold a connection without answering,
reset it, stop listening). This module does just enough HTTP/1.1: ``GET``/``HEAD``/``POST``/
``DELETE`` and anything else to the handler, persistent connections (``Connection: close`` and
HTTP/1.0 honoured), bodies framed by ``Content-Length`` (no chunked requests), proper status lines
and headers. Parsing and rendering are pure; :func:`serve` runs one connection.

Errors the client caused are answered and the connection closed: 400 malformed, 413 body too
large, 431 head too large, 501 ``Transfer-Encoding``, 505 not HTTP/1.x.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

from simulator.tcp import reset

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NO_BODY = frozenset({204, 304})


class HttpError(Exception):
    """A request this server will not process; answered with ``status`` and closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Abort(Exception):
    """Raised by a handler that wants its connection reset, unanswered."""


@dataclass(frozen=True)
class Request:
    """One parsed request; header names are lower case, repeated headers joined with ``, ``."""

    method: str
    target: str
    version: str
    headers: dict[str, str]
    body: bytes = b""
    path: str = field(init=False)
    query: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        object.__setattr__(self, "path", parts.path or "/")
        object.__setattr__(self, "query", parse_qs(parts.query, keep_blank_values=True))

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def keep_alive(self) -> bool:
        tokens = {token.strip().lower() for token in self.headers.get("connection", "").split(",")}
        if self.version == "HTTP/1.0":
            return "keep-alive" in tokens
        return "close" not in tokens


@dataclass
class Response:
    """What a handler answers; ``Content-Length``, ``Date`` and ``Connection`` are added."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False  #: close the connection after this response


def json_response(
    status: int,
    payload: Any,
    headers: Iterable[tuple[str, str]] = (),
    content_type: str = "application/json",
) -> Response:
    return Response(status, msgspec.json.encode(payload), content_type, list(headers))


def parse_head(head: bytes) -> Request:
    """The request line and headers (up to the blank line), as a bodiless request."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise HttpError(400, "non-ASCII bytes in the request head") from None
    lines = text.lstrip("\r\n").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[0] or not set(parts[0]) <= _TOKEN:
        raise HttpError(400, f"malformed request line {lines[0]!r}")
    method, target, version = parts
    if not version.startswith("HTTP/"):
        raise HttpError(400, f"malformed request line {lines[0]!r}")
    if version not in ("HTTP/1.0", "HTTP/1.1"):
        raise HttpError(505, f"{version} is not supported")
    if not target.startswith("/") and not target.startswith("http://"):
        raise HttpError(400, f"unsupported request target {target!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon or not name or not set(name) <= _TOKEN:
            raise HttpError(400, f"malformed header line {line!r}")
        name = name.lower()
        value = value.strip()
        if name == "content-length" and name in headers and headers[name] != value:
            raise HttpError(400, "conflicting Content-Length headers")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Request(method, target, version, headers)


def body_length(request: Request) -> int:
    """How many body bytes follow the head."""
    if "transfer-encoding" in request.headers:
        raise HttpError(501, "Transfer-Encoding is not supported; send Content-Length")
    value = request.headers.get("content-length")
    if value is None:
        return 0
    value = value.split(",")[0].strip()
    if not value.isdigit():
        raise HttpError(400, f"invalid Content-Length {value!r}")
    length = int(value)
    if length > MAX_BODY:
        raise HttpError(413, f"body of {length} bytes is over the {MAX_BODY} limit")
    return length


def render(response: Response, keep_alive: bool, head_only: bool = False) -> bytes:
    """The response's bytes on the wire."""
    status = response.status
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}", f"Date: {formatdate(usegmt=True)}"]
    has_body = status not in _NO_BODY and status >= 200
    if has_body:
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        lines.append(f"Content-Length: {len(response.body)}")
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    lines.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only or not has_body else head + response.body


def error_response(error: HttpError) -> Response:
    return Response(error.status, (error.message + "\n").encode(), "text/plain; charset=utf-8")


async def read_request(reader: asyncio.StreamReader) -> Request | None:
    """The next request on a connection, or ``None`` once the client has closed it."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as error:
        if not error.partial.strip():
            return None
        raise HttpError(400, "incomplete request head") from None
    except asyncio.LimitOverrunError:
        raise HttpError(431, f"request head over {MAX_HEAD} bytes") from None
    request = parse_head(head)
    length = body_length(request)
    if not length:
        return request
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        return None
    return Request(request.method, request.target, request.version, request.headers, body)


Handler = Callable[[Request], Awaitable[Response]]


async def serve(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    """Answer requests on one connection until either side ends it."""
    try:
        await _answer(reader, writer, handler)
    except Abort:
        reset(writer.transport)
        return
    except ConnectionError:
        pass
    writer.close()


async def _answer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    while True:
        try:
            request = await read_request(reader)
        except HttpError as error:
            writer.write(render(error_response(error), keep_alive=False))
            await writer.drain()
            return
        if request is None:
            return
        try:
            response = await handler(request)
        except Abort:
            raise
        except Exception:  # pylint: disable=broad-exception-caught
            log.exception("handler failed on %s %s", request.method, request.target)
            response = Response(500, b"internal error\n", "text/plain", close=True)
        keep_alive = request.keep_alive and not response.close
        writer.write(render(response, keep_alive, head_only=request.method == "HEAD"))
        await writer.drain()
        if not keep_alive:
            return
