from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from simulator.http import (
    MAX_BODY,
    MAX_HEAD,
    Abort,
    HttpError,
    Request,
    Response,
    body_length,
    parse_head,
    render,
    serve,
)


def test_parse_head():
    request = parse_head(
        b"GET /api/v3/ticker/price?symbols=%5B%22BTCUSDT%22%5D&x=&x=2 HTTP/1.1\r\n"
        b"Host: localhost\r\nX-Thing: a\r\nx-thing: b\r\n\r\n"
    )
    assert request.method == "GET"
    assert request.path == "/api/v3/ticker/price"
    assert request.param("symbols") == '["BTCUSDT"]'
    assert request.query["x"] == ["", "2"]
    assert request.param("missing") is None
    assert request.header("HOST") == "localhost"
    assert request.headers["x-thing"] == "a, b"
    assert request.keep_alive


@pytest.mark.parametrize(
    ("version", "connection", "keep_alive"),
    [
        ("HTTP/1.1", None, True),
        ("HTTP/1.1", "close", False),
        ("HTTP/1.1", "Keep-Alive, Close", False),
        ("HTTP/1.0", None, False),
        ("HTTP/1.0", "keep-alive", True),
    ],
)
def test_keep_alive_rules(version, connection, keep_alive):
    headers = {} if connection is None else {"connection": connection}
    assert Request("GET", "/", version, headers).keep_alive is keep_alive


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"GET /\r\n\r\n", 400),
        (b"GET  / HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/2.0\r\n\r\n", 505),
        (b"GET / SPDY/3\r\n\r\n", 400),
        (b"GET * HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400),
        (b"GET /\xff HTTP/1.1\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400),
    ],
)
def test_malformed_heads(head, status):
    with pytest.raises(HttpError) as raised:
        parse_head(head)
    assert raised.value.status == status


@pytest.mark.parametrize(
    ("headers", "length", "status"),
    [
        ({}, 0, None),
        ({"content-length": "12"}, 12, None),
        ({"content-length": "-1"}, None, 400),
        ({"content-length": str(MAX_BODY + 1)}, None, 413),
        ({"transfer-encoding": "chunked"}, None, 501),
    ],
)
def test_body_length(headers, length, status):
    request = Request("POST", "/", "HTTP/1.1", headers)
    if status is None:
        assert body_length(request) == length
    else:
        with pytest.raises(HttpError) as raised:
            body_length(request)
        assert raised.value.status == status


def test_render():
    wire = render(Response(429, b'{"a":1}', headers=[("Retry-After", "3")]), keep_alive=True)
    head, body = wire.split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "HTTP/1.1 429 Too Many Requests"
    assert lines[1].startswith("Date: ") and lines[1].endswith(" GMT")
    assert lines[2:] == [
        "Content-Type: application/json",
        "Content-Length: 7",
        "Retry-After: 3",
        "Connection: keep-alive",
    ]
    assert body == b'{"a":1}'


def test_render_without_body():
    wire = render(Response(204, b"ignored"), keep_alive=False)
    assert wire.endswith(b"Connection: close\r\n\r\n")
    assert b"Content-Length" not in wire
    head_only = render(Response(200, b"12345"), keep_alive=True, head_only=True)
    assert b"Content-Length: 5" in head_only and not head_only.endswith(b"12345")


class Server:
    """``serve`` behind a real socket, with a handler that echoes what it was asked."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def handler(self, request: Request) -> Response:
        self.requests.append(request)
        if request.path == "/abort":
            raise Abort
        if request.path == "/boom":
            raise RuntimeError("bug")
        return Response(
            200, f"{request.method} {request.path} {len(request.body)}".encode(), "text/plain"
        )

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self._connected, "127.0.0.1", 0, limit=MAX_HEAD)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        await serve(reader, writer, self.handler)

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()

    async def exchange(self, data: bytes) -> bytes:
        """Send raw bytes, read until the server closes the connection."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(data)
        try:
            return await asyncio.wait_for(reader.read(), 2)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def test_keep_alive_and_pipelining_on_one_connection():
    async with Server() as server:
        answer = await server.exchange(
            b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /two HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
            b"DELETE /three HTTP/1.1\r\nConnection: close\r\n\r\n"
            b"GET /never HTTP/1.1\r\n\r\n"
        )
    responses = answer.split(b"HTTP/1.1 ")[1:]
    assert len(responses) == 3
    assert responses[0].endswith(b"GET /one 0")
    assert b"Connection: keep-alive" in responses[0]
    assert responses[1].endswith(b"POST /two 5")
    assert responses[2].endswith(b"DELETE /three 0")
    assert b"Connection: close" in responses[2]
    assert [r.path for r in server.requests] == ["/one", "/two", "/three"]


async def test_http_1_0_closes_after_one_answer():
    async with Server() as server:
        answer = await server.exchange(b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n")
    assert answer.count(b"HTTP/1.1 200 OK") == 1


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NONSENSE\r\n\r\n", b"400 Bad Request"),
        (b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"501 Not Implemented"),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * (MAX_HEAD + 10) + b"\r\n\r\n", b"431 "),
        (b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", b"413 "),
    ],
)
async def test_bad_requests_are_answered_and_closed(data, status):
    async with Server() as server:
        answer = await server.exchange(data)
    assert answer.startswith(b"HTTP/1.1 " + status)
    assert b"Connection: close" in answer
    assert server.requests == []


async def test_a_failing_handler_costs_a_500_not_the_server():
    async with Server() as server:
        answer = await server.exchange(b"GET /boom HTTP/1.1\r\n\r\nGET /after HTTP/1.1\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 500 Internal Server Error")
        assert b"/after" not in answer
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{server.port}/fine")
    assert response.text == "GET /fine 0"


async def test_abort_resets_the_connection():
    async with Server() as server:
        with pytest.raises(ConnectionResetError):
            await server.exchange(b"GET /abort HTTP/1.1\r\n\r\n")


async def test_httpx_reuses_the_connection():
    async with Server() as server:
        async with httpx.AsyncClient() as client:
            for path in ("/a", "/b", "/c"):
                response = await client.get(f"http://127.0.0.1:{server.port}{path}")
                assert response.status_code == 200
                assert response.headers["content-type"] == "text/plain"
    assert len(server.requests) == 3
    assert server.connections == 1
