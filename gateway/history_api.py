"""The history routes: candles, the value served at an instant, and conversion.

Each parses its query (``gateway.history_query``), reads PostgreSQL when it must (one short
statement on the replica's pool), and renders bytes with a tag, as the courses do. A database
that cannot answer is a 503 with ``Retry-After``, never a 500.
"""

from __future__ import annotations

import decimal
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import msgspec
from fastapi import FastAPI, Request
from starlette.responses import Response

from common.wire import now_ms
from gateway import history_table, schema
from gateway.api import PrebuiltRoute, request_header
from gateway.database import DATABASE_ERRORS
from gateway.etag import if_none_match_hits
from gateway.history_query import (
    AtQuery,
    ConvertQuery,
    HistoryQuery,
    parse_at,
    parse_convert,
    parse_history,
)
from gateway.pricing import Course, round_course
from gateway.query import QueryError
from gateway.render import iso_ms, render_error, render_ok
from gateway.responses import PrebuiltResponse, rejection
from gateway.view import ReplicaView

_json = msgspec.json.Encoder(decimal_format="number")
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)
_ANSWER_SHORT = b"public, max-age=1"
_LEG_KEYS = ("source", "instrument", "price", "at")


def convert(amount: Decimal, value: Decimal, inverse: bool) -> Decimal:
    """``amount`` at the course ``value`` (divided by it when ``inverse``), rounded."""
    exact = _CONTEXT.divide(amount, value) if inverse else _CONTEXT.multiply(amount, value)
    return round_course(exact)


def _answer(request: Request, document: object, cache_control: bytes) -> Response:
    rendered = render_ok(_json.encode(document), cache_control)
    tags = request_header(request, b"if-none-match")
    hit = tags is not None and if_none_match_hits(tags, rendered.etag)
    return PrebuiltResponse(rendered, not_modified=hit)


def _unavailable(detail: str) -> Response:
    return PrebuiltResponse(render_error(503, detail, ((b"retry-after", b"1"),)))


def _not_found(detail: str) -> Response:
    return PrebuiltResponse(render_error(404, detail))


def _served_json(direction: str, served: history_table.Served) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "direction": direction,
        "value": served.value,
        "exchanger": served.exchanger,
        "updated_at": iso_ms(served.set_ms),
        "served_from": iso_ms(served.at_s * 1000),
        "stale": served.stale,
        "disputed": served.disputed,
    }
    if served.via:
        entry["via"] = list(served.via)
    # The same shape as the courses' legs (gateway.render).
    entry["legs"] = [
        dict(zip(_LEG_KEYS, (leg.source, leg.instrument, leg.price, iso_ms(leg.at))))
        for leg in served.legs
    ]
    return entry


def _course_as_served(course: Course) -> history_table.Served:
    return history_table.Served(
        0,
        course.updated_at,
        course.exchanger,
        course.stale,
        course.disputed,
        course.value,
        course.via,
        course.legs,
    )


class HistoryRoutes:
    """The handlers, bound to one replica."""

    def __init__(self, gateway: ReplicaView, closed_max_age: int, settle_seconds: float) -> None:
        self.gateway = gateway
        self.closed_cache_control = f"public, max-age={closed_max_age}, immutable".encode()
        self.settle_ms = int(settle_seconds * 1000)

    async def _read(
        self, reading: Callable[[history_table.Connection], Awaitable[Any]]
    ) -> Any | Response:
        pool: asyncpg.Pool | None = self.gateway.pool
        if pool is None:
            return _unavailable("history is not kept by this replica (no database)")
        try:
            async with pool.acquire() as connection:
                return await reading(connection)
        except DATABASE_ERRORS:
            return _unavailable("the history database is not answering; retry shortly")

    async def history(self, request: Request) -> Response:
        """``/api/v1/courses/history``: candles read from the rollups."""
        now = now_ms()
        try:
            query: HistoryQuery = parse_history(request.scope["query_string"].decode(), now)
        except (QueryError, UnicodeDecodeError) as error:
            return PrebuiltResponse(rejection(str(error)))
        found = await self._read(
            lambda connection: history_table.candles_json(
                connection, query.direction, query.width, query.from_s, query.to_s
            )
        )
        if isinstance(found, Response):
            return found
        # The last candle ends at the first multiple of the width at or after ``to``.
        last_end_ms = -(-query.to_s // query.width) * query.width * 1000
        closed = query.to_given and last_end_ms + self.settle_ms <= now
        document = {
            "direction": query.direction,
            "interval": query.interval,
            "candles": msgspec.Raw(found.encode()),  # the server's JSON, as it is
        }
        return _answer(request, document, self.closed_cache_control if closed else _ANSWER_SHORT)

    async def at(self, request: Request) -> Response:
        """``/api/v1/courses/at``: the newest stored value at or before the instant."""
        try:
            query: AtQuery = parse_at(request.scope["query_string"].decode(), now_ms())
        except (QueryError, UnicodeDecodeError) as error:
            return PrebuiltResponse(rejection(str(error)))
        found = await self._read(
            lambda connection: history_table.served_at(connection, query.direction, query.at_ms)
        )
        if isinstance(found, Response):
            return found
        if found is None:
            return _not_found(f"no value of {query.direction} stored at or before that time")
        document = {"time": iso_ms(query.at_ms), **_served_json(query.direction, found)}
        return _answer(request, document, _ANSWER_SHORT)

    async def convert(self, request: Request) -> Response:
        """``/api/v1/convert``: at the course served now, or at ``time``."""
        try:
            query: ConvertQuery = parse_convert(request.scope["query_string"].decode(), now_ms())
        except (QueryError, UnicodeDecodeError) as error:
            return PrebuiltResponse(rejection(str(error)))
        at_ms = query.at_ms
        if at_ms is None:
            course = self._current(query.direction)
            if course is None:
                return _unavailable(f"no rate known yet for {query.direction}; retry shortly")
            served = _course_as_served(course)
        else:
            found = await self._read(
                lambda connection: history_table.served_at(connection, query.direction, at_ms)
            )
            if isinstance(found, Response):
                return found
            if found is None:
                return _not_found(f"no value of {query.direction} stored at or before that time")
            served = found
        base, _, quote = query.direction.partition("-")
        document: dict[str, Any] = {
            "from": quote if query.inverse else base,
            "to": base if query.inverse else quote,
            "amount": query.amount,
            "result": convert(query.amount, served.value, query.inverse),
            "course": _served_json(query.direction, served),
        }
        if at_ms is not None:
            document["time"] = iso_ms(at_ms)
        else:
            del document["course"]["served_from"]
        return _answer(request, document, _ANSWER_SHORT)

    def _current(self, direction: str) -> Course | None:
        for course in self.gateway.rates.pricings[None].courses:
            if course is not None and course.direction == direction:
                return course
        return None


def install_history_routes(
    app: FastAPI, gateway: ReplicaView, closed_max_age: int, settle_seconds: float
) -> None:
    """Add the history routes to ``app``, documented (``gateway.schema``), answering from
    ``gateway``'s rates and pool."""
    routes = HistoryRoutes(gateway, closed_max_age, settle_seconds)
    for path, endpoint, summary, parameters, responses in (
        (
            "/api/v1/courses/history",
            routes.history,
            "A direction's candles over a time range",
            schema.HISTORY_PARAMETERS,
            schema.HISTORY_RESPONSES,
        ),
        (
            "/api/v1/courses/at",
            routes.at,
            "The course served at an instant",
            schema.AT_PARAMETERS,
            schema.AT_RESPONSES,
        ),
        (
            "/api/v1/convert",
            routes.convert,
            "An amount converted at the current or a past course",
            schema.CONVERT_PARAMETERS,
            schema.CONVERT_RESPONSES,
        ),
    ):
        app.router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            summary=summary,
            response_class=Response,
            responses=responses,
            openapi_extra={"parameters": [*parameters, schema.IF_NONE_MATCH]},
            name=endpoint.__name__,
            tags=["history"],
            route_class_override=PrebuiltRoute,
        )
