"""The HTTP API: ``/api/v1/courses`` (and the assignment's ``/courses``), health and readiness.

The courses handler only looks up what was rendered in advance: the query string selects a
shape, the answers hold that shape's bytes and tag, ``If-None-Match`` picks 200 or 304.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response

from gateway.etag import if_none_match_hits
from gateway.query import QueryError, shape_of
from gateway.render import Answers, iso_ms
from gateway.responses import PrebuiltResponse, rejection
from gateway.schema import COURSES_RESPONSES, FILTERS, IF_NONE_MATCH
from gateway.view import ReplicaView


def request_header(request: Request, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), read from the ASGI scope as it is:
    cheaper than building Starlette's ``Headers`` for one lookup on the hot path."""
    value: bytes
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class PrebuiltRoute(APIRoute):
    """A route whose endpoint takes the request and returns a ready response itself.

    FastAPI still documents it (parameters come from ``openapi_extra``), but requests skip its
    dependency solving and validation: the endpoint has nothing for them to do, and they cost
    more than the rest of the answer.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return self.endpoint


def install_routes(app: FastAPI, gateway: ReplicaView, answers: Answers) -> None:
    """Add the routes to ``app``, bound to one gateway and its answers (no globals: each app
    has its own). Added to the app itself: an included router is one more layer of matching."""
    router = app.router
    rates = gateway.rates

    async def courses(request: Request) -> Response:
        shape = shape_of(request.scope["query_string"])
        if isinstance(shape, QueryError):
            return PrebuiltResponse(rejection(str(shape)))
        rendered = answers.answer(shape)
        if rendered.etag:
            tags = request_header(request, b"if-none-match")
            if tags is not None and if_none_match_hits(tags, rendered.etag):
                return PrebuiltResponse(rendered, not_modified=True)
        return PrebuiltResponse(rendered)

    for path, versioned in (("/api/v1/courses", True), ("/courses", False)):
        router.add_api_route(
            path,
            courses,
            methods=["GET"],
            summary="Current exchange rates",
            description="Rates of the eight directions with their exchanger, age and freshness."
            + ("" if versioned else " Unversioned alias of `/api/v1/courses`."),
            response_class=Response,
            responses=COURSES_RESPONSES,
            openapi_extra={"parameters": [*FILTERS, IF_NONE_MATCH]},
            name=f"courses{'' if versioned else '_alias'}",
            tags=["rates"],
            route_class_override=PrebuiltRoute,
        )
    # Routing (Starlette's, and the metrics middleware's handler lookup) tries routes in order:
    # the courses come first, not after FastAPI's four documentation routes.
    hot = [route for route in router.routes if isinstance(route, PrebuiltRoute)]
    router.routes[:] = hot + [route for route in router.routes if route not in hot]

    @router.get("/api/v1/sources", tags=["operations"], summary="What the book holds, per source")
    async def sources() -> JSONResponse:
        book = rates.book
        instruments = [
            {
                "source": source,
                "instrument": instrument,
                "price": str(tick.price),
                "exchange_time": iso_ms(tick.exchange_ts),
                "transport": tick.transport,
                "feeder_id": tick.feeder_id,
            }
            for (source, instrument), tick in sorted(book.ticks.items())
        ]
        feeders = [
            {
                "feeder_id": status.feeder_id,
                "transport": status.transport,
                "connected": status.connected,
                "last_message_age_ms": status.last_message_age_ms,
                "messages": status.messages,
                "malformed": status.malformed,
                "reconnects": status.reconnects,
                "endpoint": status.endpoint,
            }
            for status in sorted(book.feeders.values(), key=lambda s: s.feeder_id)
        ]
        writer = gateway.writer
        stored = None
        if writer is not None:
            stored = {**dataclasses.asdict(writer.stats), "pending": writer.pending}
        return JSONResponse({"instruments": instruments, "feeders": feeders, "writer": stored})

    @router.get("/healthz", tags=["operations"], summary="The process is alive")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @router.get("/readyz", tags=["operations"], summary="Warm and subscribed: send traffic here")
    async def readyz() -> JSONResponse:
        is_ready, reason = gateway.ready()
        return JSONResponse(
            {"status": "ready" if is_ready else "not ready", "reason": reason},
            status_code=200 if is_ready else 503,
            headers={"cache-control": "no-store"},
        )
