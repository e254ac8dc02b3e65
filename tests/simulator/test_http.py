"""The simulator's HTTP/1.1 connections (h11 underneath), behind a real socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from simulator.http import MAX_BODY, MAX_HEAD, Abort, Request, Response, serve


class Server:
    """``serve`` on port 0, with a handler that echoes what it was asked."""

    def __init__(self, server: asyncio.Server) -> None:
        self.requests: list[Request] = []
        self.connections = 0
        self.port = server.sockets[0].getsockname()[1]

    async def handler(self, request: Request) -> Response:
        self.requests.append(request)
        if request.path == "/abort":
            raise Abort
        if request.path == "/boom":
            raise RuntimeError("bug")
        echo = f"{request.method} {request.path} {request.param('x')} {len(request.body)}"
        return Response(200, echo.encode(), "text/plain")

    async def exchange(self, data: bytes) -> bytes:
        """Send raw bytes, read until the server closes the connection."""
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write(data)
        try:
            return await asyncio.wait_for(reader.read(), 5)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


@pytest.fixture(name="server")
async def server_fixture() -> AsyncIterator[Server]:
    """The server, and its socket closed after the test."""
    handle: Server | None = None

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert handle is not None
        handle.connections += 1
        await serve(reader, writer, handle.handler)

    listener = await asyncio.start_server(connected, "127.0.0.1", 0, limit=MAX_HEAD)
    handle = Server(listener)
    yield handle
    listener.close()


async def test_keep_alive_and_pipelining_on_one_connection(server):
    answer = await server.exchange(
        b"GET /one?x=1&x=2 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
        b"DELETE /three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    responses = answer.split(b"HTTP/1.1 ")[1:]
    assert len(responses) == 3
    assert responses[0].startswith(b"200 OK\r\n") and responses[0].endswith(b"GET /one 1 0")
    assert responses[1].endswith(b"POST /two None 5")
    assert responses[2].endswith(b"DELETE /three None 0")
    assert b"connection: close" in responses[2].lower()
    assert [r.path for r in server.requests] == ["/one", "/two", "/three"]


async def test_http_1_0_closes_after_one_answer(server):
    answer = await server.exchange(b"GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n")
    assert answer.count(b"200 OK") == 1


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"NONSENSE\r\n\r\n", b"400 "),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * (MAX_HEAD + 10), b"431 "),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1), b"413 "),
    ],
)
async def test_bad_requests_are_answered_and_closed(server, data, status):
    answer = await server.exchange(data)
    assert answer.startswith(b"HTTP/1.1 " + status)
    assert b"connection: close" in answer.lower()
    assert server.requests == []


async def test_a_failing_handler_costs_a_500_not_the_server(server):
    answer = await server.exchange(
        b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 500 Internal Server Error")
    assert b"/after" not in answer
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/fine")
    assert response.text == "GET /fine None 0"


async def test_abort_resets_the_connection(server):
    with pytest.raises(ConnectionResetError):
        await server.exchange(b"GET /abort HTTP/1.1\r\nHost: x\r\n\r\n")


async def test_httpx_reuses_the_connection_and_head_has_no_body(server):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        for path in ("/a", "/b", "/c"):
            response = await client.get(path)
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/plain"
            assert response.headers["date"].endswith(" GMT")
        head = await client.head("/d")
    assert head.headers["content-length"] == "14" and head.content == b""
    assert len(server.requests) == 4
    assert server.connections == 1
