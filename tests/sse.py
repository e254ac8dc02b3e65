"""A blocking Server-Sent Events reader over httpx, for the live tests of the courses stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx


@dataclass
class Event:
    """One SSE block: its fields, comments under ``:``, and when it was read (epoch ms)."""

    fields: dict[str, str] = field(default_factory=dict)
    received_ms: float = 0.0

    def get(self, name: str) -> str | None:
        return self.fields.get(name)


class EventStream:
    """The blocks of one open response, as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def blocks(self) -> Iterator[Event]:
        """Every block (events, comments, ``retry:``), until the response ends."""
        block = Event()
        for line in self._lines:
            if not line:
                if block.fields:
                    block.received_ms = time.time() * 1000
                    yield block
                block = Event()
                continue
            name, _, value = line.partition(":")
            block.fields[name or ":"] = value.removeprefix(" ")

    def events(self) -> Iterator[Event]:
        """The ``courses`` events only."""
        return (block for block in self.blocks() if block.get("event") == "courses")


@contextmanager
def open_stream(
    url: str, last_event_id: str | None = None, timeout: float = 20.0
) -> Iterator[EventStream]:
    """``GET url`` as a stream (read timeout ``timeout``: longer than the heartbeat)."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with httpx.Client(timeout=httpx.Timeout(5.0, read=timeout)) as client:
        with client.stream("GET", url, headers=headers) as response:
            yield EventStream(response)


def ended(stream: EventStream, since_ms: float) -> bool:
    """True if the stream ends before an event of a change after ``since_ms`` (epoch ms):
    events read before are skipped (they may have waited in the client's buffer)."""
    try:
        for event in stream.events():
            if float(event.fields[":"].removeprefix("changed ")) > since_ms:
                return False
    except httpx.HTTPError:
        pass
    return True
