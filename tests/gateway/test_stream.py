"""The courses stream's own server, in-process over real sockets: its events, reconnects,
errors and slow clients (the route through HAProxy: tests/haproxy/test_stream_live.py)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI

from common.wire import now_ms
from gateway.app import create_app
from gateway.query import ALL
from gateway.render import Rendered
from gateway.server import uvicorn_config
from gateway.settings import GatewaySettings
from gateway.sse import event
from gateway.stream_server import BadRequest, parse_head
from gateway.streams import StreamHub
from tests.gateway.ticks import binance_ticks, coingecko_ticks, tick

LOOPBACK = "127.0.0.1"


def test_a_request_head_gives_its_path_query_and_last_event_id():
    request = parse_head(
        b'GET /api/v1/courses/stream?base=BTC HTTP/1.1\r\nHost: x\r\nLast-Event-ID:  "t1" '
    )
    assert (request.method, request.path, request.query) == ("GET", STREAM, b"base=BTC")
    assert request.last_event_id == '"t1"'
    assert parse_head(b"GET /x HTTP/1.0").last_event_id is None
    for bad in (b"GET /x", b"GET /x SPDY/3", b"GET /x HTTP/1.1\r\nno colon"):
        with pytest.raises(BadRequest):
            parse_head(bad)


def test_an_event_carries_the_answers_tag_and_body_on_one_line_each():
    rendered = Rendered(200, b'{"a":1}', '"tag"', (), ())
    assert event(rendered, 1234.5) == (
        b': changed 1234.5\nevent: courses\nid: "tag"\ndata: {"a":1}\n\n'
    )


STREAM = "/api/v1/courses/stream"


@dataclass
class Replica:
    """A gateway app running in the test's loop, with its stream server on a free port."""

    app: FastAPI
    port: int
    last_ms: int = 0

    @property
    def hub(self) -> StreamHub:
        hub: StreamHub = self.app.state.streams
        return hub

    def feed(self, *, btc: str | None = None) -> None:
        """Every price known now (BTCUSDT at ``btc`` if given), then a reprice."""
        rates = self.app.state.gateway.rates
        now = time.monotonic()
        # Strictly later each time: the book keeps a tick only if newer than the one it has.
        self.last_ms = stamp = max(now_ms(), self.last_ms + 1)
        ticks = [*binance_ticks(stamp), *coingecko_ticks(stamp)]
        if btc is not None:
            ticks[0] = tick("BTCUSDT", btc, stamp)
        for one in ticks:
            rates.apply(one, now)
        rates.reprice(now)

    async def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        """A GET on the app's own routes (ASGI), for comparison with the stream."""
        import httpx  # pylint: disable=import-outside-toplevel

        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            response = await client.get(path)
        return response.status_code, dict(response.headers), response.content


@asynccontextmanager
async def replica(refused_port: int, **settings: object) -> AsyncIterator[Replica]:
    """The app's lifespan running (no mesh: the test feeds the rates), its stream server up."""
    app = create_app(
        GatewaySettings(
            zmq_sub_endpoints=(f"tcp://{LOOPBACK}:{refused_port}",),
            gateway_host=LOOPBACK,
            gateway_stream_port=0,
            **settings,  # type: ignore[arg-type]
        )
    )
    try:
        async with app.router.lifespan_context(app):
            yield Replica(app, app.state.stream_server.port)
    finally:
        for writer in OPEN:
            writer.close()
            await writer.wait_closed()
        OPEN.clear()


OPEN: list[asyncio.StreamWriter] = []
#: A chunk's size line (hexadecimal), between events in a chunked body.
CHUNK_SIZE = re.compile(r"[0-9a-f]+")


class Reader:
    """One stream client over a real socket: the head, then events as they come."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        OPEN.append(writer)

    async def head(self) -> tuple[int, dict[str, str]]:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        lines = raw.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines[1:] if line)
        return int(lines[0].split()[1]), headers

    async def block(self) -> dict[str, str]:
        """The next SSE block, as field -> value (comments under ':'), from the chunked body
        (the stream server's) or a plain one (the FastAPI route's, unframed by the test's
        reading below: its chunk lines never look like fields)."""
        raw = await asyncio.wait_for(self.reader.readuntil(b"\n\n"), 5)
        fields: dict[str, str] = {}
        for line in raw.decode().split("\n"):
            line = line.strip("\r")
            if line and not CHUNK_SIZE.fullmatch(line):
                name, _, value = line.partition(": " if not line.startswith(":") else " ")
                fields[name] = value
        return fields

    async def event(self) -> dict[str, str]:
        """The next ``courses`` event, skipping comments and ``retry:``."""
        while "event" not in (block := await self.block()):
            pass
        return block

    async def body(self) -> bytes:
        return await asyncio.wait_for(self.reader.read(), 5)

    def close(self) -> None:
        self.writer.close()


async def connect(
    port: int, query: str, *headers: str, receive_buffer: int | None = None
) -> Reader:
    """A stream request for ``query`` with ``headers`` (and a small receive buffer: a client
    whose kernel holds little before its server's buffer grows)."""
    sock = socket.socket()
    if receive_buffer is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (LOOPBACK, port))
    reader, writer = await asyncio.open_connection(sock=sock)
    target = STREAM + (f"?{query}" if query else "")
    lines = [f"GET {target} HTTP/1.1", "Host: gw", *headers]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    return Reader(reader, writer)


async def test_the_first_event_is_the_get_answer_then_one_per_change(refused_port):
    async with replica(refused_port) as gw:
        gw.feed()
        status, get_headers, get_body = await gw.get("/api/v1/courses?base=BTC")
        assert status == 200
        client = await connect(gw.port, "base=BTC")
        status, headers = await client.head()
        assert status == 200
        assert headers["content-type"] == "text/event-stream"
        assert headers["cache-control"] == "no-store"
        assert headers["transfer-encoding"] == "chunked"
        # retry: and the first event, one chunk
        assert CHUNK_SIZE.fullmatch((await client.reader.readuntil(b"\r\n")).decode().strip())
        assert await client.block() == {"retry": "1000"}
        first = await client.event()
        assert first["event"] == "courses"
        assert first["id"] == get_headers["etag"]
        assert first["data"].encode() == get_body
        # A change elsewhere (ETH) leaves this query's answer alone: no event for it.
        eth = tick("ETHUSDT", "3500.5", now_ms())
        gw.app.state.gateway.rates.apply(eth, time.monotonic())
        gw.app.state.gateway.rates.reprice(time.monotonic())
        gw.feed(btc="98000.25")
        second = await client.event()
        assert json.loads(second["data"])["courses"][0]["value"] > 97000
        _, headers_now, body_now = await gw.get("/api/v1/courses?base=BTC")
        assert (second["id"], second["data"].encode()) == (headers_now["etag"], body_now)
        changed = float(second[":"].removeprefix("changed "))
        assert abs(changed - time.time() * 1000) < 5000
        assert gw.hub.open_streams == 1
        client.close()
        await _until(lambda: gw.hub.open_streams == 0)


async def test_reconnecting_with_the_current_tag_repeats_nothing_an_older_one_gets_it(
    refused_port,
):
    async with replica(refused_port) as gw:
        gw.feed(btc="97000")
        old = (await (first := await connect(gw.port, "")).event())["id"]
        first.close()
        gw.feed(btc="97001")
        _, headers, _ = await gw.get("/api/v1/courses")
        current = headers["etag"]
        assert current != old
        stale = await connect(gw.port, "", f"Last-Event-ID: {old}")
        assert (await stale.event())["id"] == current
        fresh = await connect(gw.port, "", f"Last-Event-ID: {current}")
        assert (await fresh.head())[0] == 200
        assert await fresh.block() == {"retry": "1000"}
        gw.feed(btc="97002")
        # The next thing on the stream is the change, not the answer it already had.
        assert (await fresh.event())["id"] not in (current, old)
        stale.close()
        fresh.close()


async def test_errors_are_the_gets_and_close_the_connection(refused_port):
    async with replica(refused_port) as gw:
        client = await connect(gw.port, "")  # nothing known yet
        status, headers = await client.head()
        get_status, get_headers, get_body = await gw.get("/api/v1/courses")
        assert (status, get_status) == (503, 503)
        assert headers["retry-after"] == get_headers["retry-after"]
        assert await client.body() == get_body
        gw.feed()
        client = await connect(gw.port, "base=DOGE")
        assert (await client.head())[0] == 422
        assert await client.body() == (await gw.get("/api/v1/courses?base=DOGE"))[2]
        reader, writer = await asyncio.open_connection(LOOPBACK, gw.port)
        writer.write(b"GET /api/v1/courses HTTP/1.1\r\n\r\n")
        assert (await Reader(reader, writer).head())[0] == 404
        writer.close()
        assert gw.hub.open_streams == 0


async def test_a_client_that_stops_reading_is_dropped_the_others_get_every_event(
    refused_port,
):
    async with replica(refused_port, gateway_stream_buffer_limit=4096) as gw:
        gw.feed()
        stuck = await connect(gw.port, "", receive_buffer=4096)
        await stuck.head()  # then never reads again
        reading = await connect(gw.port, "")
        await reading.event()
        received: asyncio.Queue[str] = asyncio.Queue()

        async def follow() -> None:
            while True:
                received.put_nowait((await reading.event())["id"])

        follower = asyncio.create_task(follow())
        price = 90000
        try:
            while gw.hub.slow_dropped == 0:  # once the stuck client's kernel buffers are full
                price += 1
                gw.feed(btc=str(price))
                sent = gw.hub.answers.answer(ALL).etag
                assert await asyncio.wait_for(received.get(), 5) == sent
                assert price < 150_000, "the stuck client was never dropped"
        finally:
            follower.cancel()
        assert gw.hub.slow_dropped == 1
        await _until(lambda: gw.hub.open_streams == 1)
        assert await asyncio.wait_for(_drain(stuck), 10) > 0  # then EOF: it was cut off


async def _drain(client: Reader) -> int:
    total = 0
    while chunk := await client.reader.read(65536):
        total += len(chunk)
    return total


async def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_the_documented_route_streams_the_same_events_on_the_replicas_own_port(
    refused_port,
):
    async with replica(refused_port) as gw:
        gw.feed()
        config = uvicorn_config(gw.app, LOOPBACK, 0)
        config.lifespan = "off"  # the replica's lifespan already runs
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            await _until(lambda: server.started)
            port = server.servers[0].sockets[0].getsockname()[1]
            client = await connect(port, "base=ETH")
            status, headers = await client.head()
            assert status == 200
            assert headers["content-type"].startswith("text/event-stream")
            assert headers["cache-control"] == "no-store"
            first = await client.event()
            _, get_headers, get_body = await gw.get("/api/v1/courses?base=ETH")
            assert (first["id"], first["data"].encode()) == (get_headers["etag"], get_body)
            gw.feed()
            assert (await client.event())["id"] != first["id"]
            assert gw.hub.open_streams == 1
            client.close()
            await _until(lambda: gw.hub.open_streams == 0)
            refused = await connect(port, "quote=EUR")
            assert (await refused.head())[0] == 422
        finally:
            server.should_exit = True
            await serving
