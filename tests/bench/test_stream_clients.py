"""The stream load generator's client reads what the gateway's stream server writes: every
event counted once, whatever the reads' boundaries, with its lag and its id in the digest."""

from __future__ import annotations

import zlib
from typing import Any

import pytest

from bench.stream_clients import StreamClient, Tally, Worker
from gateway.render import Rendered, render_error
from gateway.sse import HEARTBEAT, RESPONSE_HEAD, chunk, event, retry
from gateway.stream_server import response_bytes


class FakeTransport:
    """What the client uses of a transport: its request, and a close on a refused stream."""

    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True


def rendered(etag: str) -> Rendered:
    return Rendered(200, b'{"courses":[{"direction":"BTC-USD","value":1}]}', etag, (), ())


def stream_bytes(changes: list[tuple[str, float]], chunked: bool) -> bytes:
    """A stream's bytes: head, then retry and the current answer, then each change, with a
    heartbeat in between; every part after the head a chunk if ``chunked`` (the stream
    server's way) or as it is."""
    frame = chunk if chunked else bytes
    (first, first_ms), *rest = changes
    body = frame(retry(3000) + event(rendered(first), first_ms))
    for etag, changed_ms in rest:
        body += frame(HEARTBEAT) + frame(event(rendered(etag), changed_ms))
    return RESPONSE_HEAD + body


def connect(worker: Worker) -> tuple[StreamClient, FakeTransport]:
    client = StreamClient(worker, b"GET / HTTP/1.1\r\n\r\n")
    transport = FakeTransport()
    client.connection_made(transport)  # type: ignore[arg-type]
    return client, transport


CHANGES = [('"a"', 1_000.0), ('"b"', 2_000.5), ('"c"', 3_000.0), ('"d"', 9_000.0)]


@pytest.mark.parametrize("chunked", [True, False])
@pytest.mark.parametrize("read_size", [1, 7, 64, 4096])
def test_every_event_of_the_window_is_counted_once_whatever_the_reads(
    read_size: int, chunked: bool, monkeypatch: Any
) -> None:
    monkeypatch.setattr("bench.stream_clients.time.time", lambda: 3.25)  # received at 3,250 ms
    worker = Worker()
    worker.tally = Tally(start_ms=1_500.0, end_ms=5_000.0)
    client, transport = connect(worker)
    data = stream_bytes(CHANGES, chunked)
    for start in range(0, len(data), read_size):
        client.data_received(data[start : start + read_size])

    assert transport.written.startswith(b"GET ")
    assert not transport.closed
    assert worker.started == 1  # the first event is the current answer, not a change
    # "b" and "c" changed in the window; "d" after it.
    assert client.count == 2
    assert client.digest == zlib.crc32(b'"b"') ^ zlib.crc32(b'"c"')
    assert list(worker.tally.lags_ms) == [1_249.5, 250.0]
    assert client.buffer == (b"\n\r\n" if chunked else b"\n")  # no event held back


def test_a_refused_stream_records_nothing_and_counts_as_refused() -> None:
    worker = Worker()
    client, _ = connect(worker)
    client.data_received(response_bytes(render_error(503, "no course known yet")))
    client.connection_lost(None)  # the server closes after its answer
    assert (worker.started, worker.refused, client.count) == (0, 1, 0)
    assert worker.tally.lags_ms.tolist() == []


def test_an_answer_other_than_200_is_closed_at_once() -> None:
    worker = Worker()
    client, transport = connect(worker)
    client.data_received(b"HTTP/1.1 404 Not Found\r\n\r\n" + event(rendered('"a"'), 1.0))
    assert transport.closed
    assert worker.started == 0
