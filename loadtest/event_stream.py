"""Reading the courses stream as it arrives: the response head, a chunked body, and Server-Sent
Events (https://html.spec.whatwg.org/multipage/server-sent-events.html), fed whatever each read
returned, however the bytes were split. Pure: no I/O, no locust, so it is tested on its own.

The load test reads it as ``event_stream`` (beside the locustfile, like ``contract``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: A line and its end: LF, CRLF or a lone CR, as the spec allows.
LINE = re.compile(rb"([^\r\n]*)(\r\n|\r|\n)")
CHANGED = b" changed "
#: A chunk-size line longer than this is not HTTP.
MAX_SIZE_LINE = 1024


class StreamError(ValueError):
    """The bytes are not the HTTP/1.1 or SSE they should be."""


@dataclass(frozen=True, slots=True)
class Head:
    """A response's status and headers (names lower-cased)."""

    status: int
    headers: dict[str, str]

    @property
    def chunked(self) -> bool:
        return "chunked" in self.headers.get("transfer-encoding", "").lower()


def parse_head(head: bytes) -> Head:
    """The status line and headers of a response head (up to, not including, the blank line)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise StreamError(f"not an HTTP/1.x status line: {lines[0]!r:.80}")
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if not colon:
            raise StreamError(f"malformed header {line!r:.80}")
        headers[name.strip().lower()] = value.strip()
    return Head(int(parts[1]), headers)


class ChunkedDecoder:
    """A chunked body, decoded as it arrives; ``ended`` once its last (empty) chunk came."""

    def __init__(self) -> None:
        self._buffer = b""
        #: bytes of the current chunk's data still to come; -1: its CRLF is next
        self._left = 0
        self.ended = False

    def feed(self, data: bytes) -> bytes:
        """The body's bytes among ``data`` (what came after the end is ignored)."""
        self._buffer += data
        out = []
        while self._buffer and not self.ended:
            if self._left > 0:
                out.append(self._buffer[: self._left])
                self._buffer = self._buffer[self._left :]
                self._left -= len(out[-1])
                if self._left == 0:
                    self._left = -1
            elif self._left < 0:
                if len(self._buffer) < 2:
                    break
                if self._buffer[:2] != b"\r\n":
                    raise StreamError("a chunk not followed by CRLF")
                self._buffer, self._left = self._buffer[2:], 0
            elif not self._next_size():
                break
        return b"".join(out)

    def _next_size(self) -> bool:
        """Reads a chunk-size line when it is whole; False while it is not."""
        line, crlf, rest = self._buffer.partition(b"\r\n")
        if not crlf:
            if len(self._buffer) > MAX_SIZE_LINE:
                raise StreamError("no chunk size")
            return False
        try:
            size = int(line.split(b";", 1)[0], 16)
        except ValueError as error:
            raise StreamError(f"bad chunk size {line!r:.40}") from error
        self._buffer, self._left = rest, size
        # The last chunk (size 0) may carry trailers: the stream is over either way.
        self.ended = size == 0
        return True


@dataclass(frozen=True, slots=True)
class Event:
    """One dispatched event: its type, data, the ``id:`` of its own block (None without one)
    and the time in its ``: changed`` comment (epoch ms; None without one)."""

    type: str
    data: str
    id: str | None
    changed_ms: float | None


@dataclass(slots=True)
class _Block:
    """The fields of the event being read, until the blank line that dispatches it."""

    type: str = ""
    data: list[str] = field(default_factory=list)
    id: str | None = None
    changed_ms: float | None = None


class EventParser:
    """Events from a stream's decoded body, fed in pieces; ``retry_ms`` and
    ``last_event_id`` as the stream last set them (what a reconnection uses)."""

    def __init__(self) -> None:
        self._buffer = b""
        #: the last read ended with CR: an LF starting the next one ends the same line
        self._skip_lf = False
        self._block = _Block()
        self.retry_ms: int | None = None
        self.last_event_id: str | None = None

    def reconnected(self) -> None:
        """A new connection: what the last one left half-read is dropped (as ``EventSource``
        does), the retry and the last id are kept."""
        self._buffer, self._skip_lf, self._block = b"", False, _Block()

    def feed(self, data: bytes) -> list[Event]:
        """The events the lines completed by ``data`` dispatch."""
        if self._skip_lf and data.startswith(b"\n"):
            data = data[1:]
        self._skip_lf = False
        self._buffer += data
        events = []
        end = 0
        for match in LINE.finditer(self._buffer):
            end = match.end()
            event = self._line(match[1])
            if event is not None:
                events.append(event)
        if end and self._buffer[end - 1 : end] == b"\r" and end == len(self._buffer):
            self._skip_lf = True
        self._buffer = self._buffer[end:]
        return events

    def _line(self, line: bytes) -> Event | None:
        if not line:
            return self._dispatch()
        if line.startswith(b":"):
            self._comment(line[1:])
            return None
        name, _, value = line.partition(b":")
        self._field(name, value[1:] if value.startswith(b" ") else value)
        return None

    def _comment(self, text: bytes) -> None:
        """Only ``: changed <epoch ms>`` means something here (the gateway's change time)."""
        if text.startswith(CHANGED):
            try:
                self._block.changed_ms = float(text[len(CHANGED) :])
            except ValueError:
                self._block.changed_ms = None

    def _field(self, name: bytes, value: bytes) -> None:
        text = value.decode("utf-8", errors="replace")
        if name == b"event":
            self._block.type = text
        elif name == b"data":
            self._block.data.append(text)
        elif name == b"id" and "\0" not in text:
            self._block.id = self.last_event_id = text
        elif name == b"retry" and value.isdigit():
            self.retry_ms = int(value)

    def _dispatch(self) -> Event | None:
        """The block's event, if it had data (a blank line after none dispatches nothing)."""
        block, self._block = self._block, _Block()
        if not block.data:
            return None
        return Event(block.type or "message", "\n".join(block.data), block.id, block.changed_ms)
