"""``GET /api/v1/courses/stream`` on the replica's own port (FastAPI): documented in OpenAPI,
and served for direct use.

Through HAProxy the path goes to the stream's own server (:mod:`gateway.stream_server`), which
writes to sockets directly; this route is the ASGI way (a queue and ``send`` per event per
client), good for a few clients, with the same events, errors and slow-client bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response, StreamingResponse

from gateway.api import request_header
from gateway.query import QueryError, shape_of
from gateway.responses import PrebuiltResponse, rejection
from gateway.schema import FILTERS, LAST_EVENT_ID, STREAM_RESPONSES
from gateway.stream_server import STREAM_PATH
from gateway.streams import StreamHub


class QueuedClient:
    """A stream client whose bytes wait in a queue for the response to send them."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._unsent = 0

    def write(self, data: bytes) -> None:
        self._unsent += len(data)
        self._queue.put_nowait(data)

    def get_write_buffer_size(self) -> int:
        return self._unsent

    def abort(self) -> None:
        self._queue.put_nowait(None)

    async def chunks(self) -> AsyncIterator[bytes]:
        """What was written, as it comes, until aborted."""
        while (data := await self._queue.get()) is not None:
            self._unsent -= len(data)
            yield data


def install_stream_route(app: FastAPI, hub: StreamHub) -> None:
    """Add the documented stream route to ``app``, streaming from ``hub``."""

    async def stream(request: Request) -> Response:
        shape = shape_of(request.scope["query_string"])
        if isinstance(shape, QueryError):
            return PrebuiltResponse(rejection(str(shape)))
        client = QueuedClient()
        rendered = hub.subscribe(shape, client, request_header(request, b"last-event-id"))
        if rendered.status != 200:
            return PrebuiltResponse(rendered)

        async def events() -> AsyncIterator[bytes]:
            try:
                async for chunk in client.chunks():
                    yield chunk
            finally:
                hub.unsubscribe(shape, client)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    extra: dict[str, Any] = {"parameters": [*FILTERS, LAST_EVENT_ID]}
    app.router.add_api_route(
        STREAM_PATH,
        stream,
        methods=["GET"],
        summary="The courses as they change (Server-Sent Events)",
        description="The same parameters and answer as `/api/v1/courses`, as a stream: first "
        "the current answer, then one `courses` event per change of what the query returns "
        "(`id:` the answer's ETag, `data:` its JSON body), a comment line at least every 15 s, "
        "and `retry:` the milliseconds to wait before reconnecting. Reconnecting with "
        "`Last-Event-ID` equal to the current tag skips the repeat of the current answer.",
        response_class=Response,
        responses=STREAM_RESPONSES,
        openapi_extra=extra,
        name="courses_stream",
        tags=["rates"],
    )
