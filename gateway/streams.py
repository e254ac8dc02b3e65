"""Who streams which query, and pushing each change to them: the bytes of an event are built
once per query shape and written to every client of that shape as they are.

Pure of sockets: a client is anything with a transport's ``write``, ``get_write_buffer_size``
and ``abort`` (an asyncio transport, or the FastAPI route's queue). A client whose unsent bytes
pass the bound is dropped (counted): it never delays the others, and its buffer never grows
without bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from gateway.query import Shape
from gateway.render import Answers, Rendered
from gateway.sse import HEARTBEAT, chunk, event, retry


class Client(Protocol):
    """Where a stream's bytes go: the part of ``asyncio.WriteTransport`` used here."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def abort(self) -> None: ...


class _ShapeStream:
    """The clients of one query shape and the last event they were all sent: ``clients`` take
    the bytes as they are, ``chunked`` ones framed as chunks (the stream server's)."""

    __slots__ = ("clients", "chunked", "etag", "event")

    def __init__(self, rendered: Rendered, changed_ms: float) -> None:
        self.clients: set[Client] = set()
        self.chunked: set[Client] = set()
        self.etag = rendered.etag
        self.event = event(rendered, changed_ms)


class StreamHub:
    """Every open stream of one replica, by query shape.

    ``on_change`` goes after ``Answers.update`` on the rates' change listeners: it reads the
    answers just rebuilt, and sends an event to a shape's clients only when that shape's answer
    (its tag) changed.
    """

    def __init__(
        self,
        answers: Answers,
        buffer_limit: int,
        retry_ms: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.answers = answers
        self.buffer_limit = buffer_limit
        self._retry = retry(retry_ms)
        self._clock = clock
        self._streams: dict[Shape, _ShapeStream] = {}
        #: events written to clients (one per client per event)
        self.events_sent = 0
        #: clients dropped because their unsent bytes passed ``buffer_limit``
        self.slow_dropped = 0
        #: streams opened since start
        self.opened = 0

    @property
    def open_streams(self) -> int:
        return sum(len(s.clients) + len(s.chunked) for s in self._streams.values())

    def subscribe(  # pylint: disable=too-many-arguments
        self,
        shape: Shape,
        client: Client,
        last_event_id: str | None,
        preamble: bytes = b"",
        chunked: bool = False,
    ) -> Rendered:
        """Start streaming ``shape`` to ``client``: ``preamble`` (the response head), ``retry:``
        and the current answer (unless the client already has it, by ``last_event_id``), in
        one write; every write after ``preamble`` framed as a chunk if ``chunked``. Returns
        the answer; when it is not a 200 (nothing known yet) nothing is written, the client is
        not subscribed and the caller answers with it instead."""
        rendered = self.answers.answer(shape)
        if rendered.status != 200:
            return rendered
        stream = self._streams.get(shape)
        if stream is None:
            stream = self._streams[shape] = _ShapeStream(rendered, self._clock() * 1000)
        elif stream.etag != rendered.etag:  # only if on_change was not told of a change
            self._publish(stream, rendered, self._clock() * 1000)
        first = self._retry
        if last_event_id != rendered.etag:
            first += stream.event
        self.opened += 1
        (stream.chunked if chunked else stream.clients).add(client)
        client.write(preamble + (chunk(first) if chunked else first))
        self.events_sent += last_event_id != rendered.etag
        return rendered

    def unsubscribe(self, shape: Shape, client: Client) -> None:
        stream = self._streams.get(shape)
        if stream is None:
            return
        stream.clients.discard(client)
        stream.chunked.discard(client)
        if not stream.clients and not stream.chunked:
            del self._streams[shape]

    def on_change(self, _pricings: Mapping[str | None, object]) -> None:
        """The pricings changed: an event to the clients of every shape whose answer did."""
        changed_ms = self._clock() * 1000
        for shape, stream in list(self._streams.items()):
            rendered = self.answers.answer(shape)
            if rendered.status == 200 and rendered.etag != stream.etag:
                self._publish(stream, rendered, changed_ms)

    def _publish(self, stream: _ShapeStream, rendered: Rendered, changed_ms: float) -> None:
        """Encode the shape's new answer once; write it to each of its clients."""
        stream.etag = rendered.etag
        stream.event = event(rendered, changed_ms)
        self._write(stream, stream.event)

    def heartbeat(self) -> None:
        """A comment to every client (and slow ones dropped on the way)."""
        for stream in list(self._streams.values()):
            self._write(stream, HEARTBEAT, counts=False)

    def close_all(self) -> None:
        """Drop every client (the replica stops)."""
        for stream in list(self._streams.values()):
            for client in [*stream.clients, *stream.chunked]:
                client.abort()
        self._streams.clear()

    def _write(self, stream: _ShapeStream, data: bytes, counts: bool = True) -> None:
        """``data`` to every client of ``stream`` (framed once for the chunked ones)."""
        sent = self._write_all(stream.clients, data)
        if stream.chunked:
            sent += self._write_all(stream.chunked, chunk(data))
        if counts:
            self.events_sent += sent

    def _write_all(self, clients: set[Client], data: bytes) -> int:
        """Write ``data`` to each of ``clients``; drop those past the bound. How many kept."""
        limit = self.buffer_limit
        slow = []
        for client in clients:
            client.write(data)
            if client.get_write_buffer_size() > limit:
                slow.append(client)
        for client in slow:
            clients.discard(client)
            self.slow_dropped += 1
            client.abort()
        return len(clients)
