"""HTTP/1.1 for the endpoints whose sockets the simulator controls, spoken through h11.

A framework would hide the sockets; the faults need them (hold a connection without answering,
reset it, stop listening). h11 does the protocol (persistent connections, ``Connection: close``,
HTTP/1.0, chunked bodies, what is malformed); :func:`serve` runs one connection: each request to
the handler, each answer back. A request h11 rejects is answered with the status it suggests
(400, 431, ...) and the connection closed; so is a body over :data:`MAX_BODY`, with 413; a
handler that raises :class:`Abort` has its connection reset, unanswered.
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

import h11
import msgspec

from simulator.tcp import reset

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
MAX_BODY = 1024 * 1024


class Abort(Exception):
    """Raised by a handler that wants its connection reset, unanswered."""


class _TooLarge(Exception):
    """A request body over :data:`MAX_BODY`."""


@dataclass(frozen=True)
class Request:
    """One request; header names in lower case."""

    method: str
    target: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.target).path or "/"

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = parse_qs(urlsplit(self.target).query, keep_blank_values=True).get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Response:
    """What a handler answers; ``Content-Length`` and ``Date`` are added."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(status, msgspec.json.encode(payload), "application/json", tuple(headers))


def _text(status: int, message: str, close: bool = False) -> Response:
    headers = (("Connection", "close"),) if close else ()
    return Response(status, f"{message}\n".encode(), "text/plain; charset=utf-8", headers)


Handler = Callable[[Request], Awaitable[Response]]


async def serve(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, handler: Handler
) -> None:
    """Answer requests on one connection until either side ends it."""
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
    try:
        while (request := await _receive(connection, reader)) is not None:
            try:
                response = await handler(request)
            except Abort:
                raise
            except Exception:  # pylint: disable=broad-exception-caught
                log.exception("handler failed on %s %s", request.method, request.target)
                response = _text(500, "internal error", close=True)
            writer.write(_render(connection, response, head_only=request.method == "HEAD"))
            await writer.drain()
            if connection.our_state is not h11.DONE:
                break  # one side asked to close
            connection.start_next_cycle()
    except h11.RemoteProtocolError as error:
        if connection.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            writer.write(_render(connection, _text(error.error_status_hint, str(error), True)))
    except _TooLarge:
        writer.write(_render(connection, _text(413, f"body over {MAX_BODY} bytes", True)))
    except Abort:
        reset(writer.transport)
        return
    except ConnectionError:
        pass
    writer.close()


async def _receive(connection: h11.Connection, reader: asyncio.StreamReader) -> Request | None:
    """The next whole request, or ``None`` once the client has closed the connection."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            connection.receive_data(await reader.read(65536))
        elif isinstance(event, h11.Request):
            head = event
            length = dict(event.headers).get(b"content-length", b"0")
            if int(length) > MAX_BODY:
                raise _TooLarge
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > MAX_BODY:
                raise _TooLarge
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            headers = {name.decode(): value.decode("latin-1") for name, value in head.headers}
            return Request(head.method.decode(), head.target.decode(), headers, bytes(body))
        else:
            return None  # the client closed the connection


def _render(connection: h11.Connection, response: Response, head_only: bool = False) -> bytes:
    headers = [("Date", formatdate(usegmt=True)), ("Content-Length", str(len(response.body)))]
    if response.content_type:
        headers.append(("Content-Type", response.content_type))
    headers.extend(response.headers)
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    data = connection.send(
        h11.Response(status_code=response.status, headers=headers, reason=reason)
    )
    if response.body and not head_only:
        data = (data or b"") + (connection.send(h11.Data(data=response.body)) or b"")
    return (data or b"") + (connection.send(h11.EndOfMessage()) or b"")
