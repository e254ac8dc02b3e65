"""The streamers' reading of the courses stream: a chunked body and Server-Sent Events, however
the bytes are split between reads."""

from __future__ import annotations

import pytest

from loadtest.event_stream import (
    ChunkedDecoder,
    Event,
    EventParser,
    StreamError,
    parse_head,
)

TAG = '"abcDEF012_-"'
#: What the gateway writes (gateway/sse.py): retry, an event, a keep-alive.
STREAM = (
    b"retry: 1000\n\n"
    b": changed 1795996936123.4\nevent: courses\nid: " + TAG.encode() + b"\n"
    b'data: {"exchanger":"binance","courses":[]}\n\n'
    b": keep-alive\n\n"
)
EVENT = Event("courses", '{"exchanger":"binance","courses":[]}', TAG, 1795996936123.4)


def fed(parser: EventParser, pieces: list[bytes]) -> list[Event]:
    return [event for piece in pieces for event in parser.feed(piece)]


def test_the_gateways_stream_gives_one_event_and_its_retry():
    parser = EventParser()
    assert parser.feed(STREAM) == [EVENT]
    assert parser.retry_ms == 1000
    assert parser.last_event_id == TAG


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
def test_events_split_across_reads_come_out_whole(size):
    stream = STREAM * 3
    pieces = [stream[i : i + size] for i in range(0, len(stream), size)]
    assert fed(EventParser(), pieces) == [EVENT] * 3


@pytest.mark.parametrize("end", [b"\r\n", b"\r"])
def test_crlf_and_cr_end_lines_as_lf_does(end):
    stream = STREAM.replace(b"\n", end)
    assert EventParser().feed(stream) == [EVENT]
    # A CRLF split between two reads is one line end, not a line end and an empty line.
    pieces = [stream[i : i + 1] for i in range(len(stream))]
    assert fed(EventParser(), pieces) == [EVENT]


def test_an_event_is_dispatched_only_by_its_blank_line():
    parser = EventParser()
    whole = STREAM.split(b"\n\n: keep-alive", maxsplit=1)[0]
    assert not parser.feed(whole + b"\n")
    assert parser.feed(b"\n") == [EVENT]


def test_comments_and_unknown_fields_are_ignored_and_data_lines_joined():
    parser = EventParser()
    events = parser.feed(b": hello\nfoo: bar\nretry: soon\ndata: a\ndata:b\n\n")
    assert events == [Event("message", "a\nb", None, None)]
    assert parser.retry_ms is None


def test_a_blank_line_after_no_data_dispatches_nothing_and_forgets_the_block():
    events = EventParser().feed(b"event: courses\n: changed 1\nid: a\n\ndata: x\n\n")
    assert events == [Event("message", "x", None, None)]


def test_the_last_id_outlives_an_event_without_one():
    parser = EventParser()
    events = parser.feed(b"id: a\ndata: 1\n\ndata: 2\n\n")
    assert [event.id for event in events] == ["a", None]
    assert parser.last_event_id == "a"


def test_an_event_cut_by_a_dropped_connection_does_not_spill_into_the_next():
    parser = EventParser()
    cut = STREAM.index(b"data:") + 10
    assert parser.feed(STREAM + STREAM[:cut]) == [EVENT]
    parser.reconnected()
    assert parser.feed(STREAM) == [EVENT]
    assert (parser.retry_ms, parser.last_event_id) == (1000, TAG)


def chunked(*parts: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts)


@pytest.mark.parametrize("size", [1, 2, 5, 1000])
def test_a_chunked_body_decodes_whatever_the_reads(size):
    body = chunked(STREAM[:10], STREAM[10:], STREAM) + b"0\r\n\r\n"
    decoder = ChunkedDecoder()
    out = b"".join(decoder.feed(body[i : i + size]) for i in range(0, len(body), size))
    assert out == STREAM * 2
    assert decoder.ended


def test_a_chunk_extension_is_allowed_and_a_bad_size_is_not():
    assert ChunkedDecoder().feed(b"3;x=y\r\nabc\r\n") == b"abc"
    with pytest.raises(StreamError):
        ChunkedDecoder().feed(b"zz\r\nabc\r\n")
    with pytest.raises(StreamError):
        ChunkedDecoder().feed(b"3\r\nabcX\r\n")


def test_a_response_head():
    head = parse_head(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nTransfer-Encoding: chunked"
    )
    assert head.status == 200 and head.chunked
    assert head.headers["content-type"] == "text/event-stream"
    assert not parse_head(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 9").chunked
    with pytest.raises(StreamError):
        parse_head(b"SSH-2.0-OpenSSH")
