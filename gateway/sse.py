"""Server-Sent Events framing of the courses answers: pure bytes, no I/O.

An event carries the GET's body as it is (``data:``, one line: the JSON is compact), its tag
(``id:``, what a reconnecting client sends back as ``Last-Event-ID``) and, as a comment line
clients ignore, the wall-clock time the gateway's pricings changed (what lag is measured from).
"""

from __future__ import annotations

from gateway.render import Rendered

#: The event's type, for ``EventSource.addEventListener("courses", ...)``.
EVENT_NAME = b"courses"
#: A comment: keeps proxies and clients from closing an idle stream.
HEARTBEAT = b": keep-alive\n\n"
#: The first line of the comment naming the change's time (milliseconds since the epoch).
CHANGED_PREFIX = b": changed "

RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream\r\n"
    b"cache-control: no-store\r\n"
    # nginx-style proxies (and HAProxy's cache, by no-store) leave the stream alone.
    b"x-accel-buffering: no\r\n"
    # Chunks, the framing computed once per event for all clients (gateway.streams.chunk):
    # HAProxy forwards a chunked body's events sooner than a body that ends at close.
    b"transfer-encoding: chunked\r\n"
    b"\r\n"
)


def event(rendered: Rendered, changed_ms: float) -> bytes:
    """One ``courses`` event for a 200 answer, changed at ``changed_ms`` (epoch ms)."""
    return b"%s%.1f\nevent: %s\nid: %s\ndata: %s\n\n" % (
        CHANGED_PREFIX,
        changed_ms,
        EVENT_NAME,
        rendered.etag.encode(),
        rendered.body,
    )


def retry(milliseconds: int) -> bytes:
    """How long a client waits before reconnecting, sent once at the start of a stream."""
    return b"retry: %d\n\n" % milliseconds


def chunk(data: bytes) -> bytes:
    """``data`` as one chunk of a chunked HTTP/1.1 body."""
    return b"%x\r\n%s\r\n" % (len(data), data)
