"""The courses' contract in OpenAPI: their query parameters and their answers, defined once.

Every route that takes the courses' filters (the courses, and routes to come: their stream,
their history) documents ``FILTERS``; every route answering with courses documents
``Courses``, whose ``Course`` gains the fields new routes add. The parameters say exactly
what ``gateway.query`` accepts, and the models exactly what ``gateway.render`` writes: the
schemathesis run in the tests holds both to it. The models document; nothing validates or
builds an answer through them (answers are rendered from bytes in advance).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from gateway.query import EXCHANGER_ALIASES, LISTS
from gateway.recipes import DIRECTIONS, EXCHANGERS

Direction = Literal[DIRECTIONS]  # type: ignore[valid-type]
Exchanger = Literal[EXCHANGERS]  # type: ignore[valid-type]

_DESCRIPTIONS = {
    "direction": "Directions, e.g. `BTC-USD,ETH-RUB`",
    "base": "Base currencies, e.g. `BTC`",
    "quote": "Quote currencies, e.g. `RUB`",
}


def _list_parameter(name: str, values: tuple[str, ...]) -> dict[str, Any]:
    """A parameter listing values: repeated, comma-separated, or both; at most as many times,
    and as many values each time, as there are valid values."""
    assert all(value.replace("-", "").isalnum() for value in values)  # no regex syntax in them
    one = "|".join(values)
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": f"{_DESCRIPTIONS[name]}: repeat the parameter, separate values with "
        f"commas, or both. One of: {', '.join(values)}.",
        "style": "form",
        "explode": True,
        "schema": {
            "type": "array",
            "maxItems": len(values),
            "items": {
                "type": "string",
                "pattern": f"^({one})(,({one})){{0,{len(values) - 1}}}$",
            },
        },
    }


#: The courses' filters; they narrow together, and what remains may be no direction at all.
FILTERS: list[dict[str, Any]] = [
    *(_list_parameter(name, values) for name, values in LISTS.items()),
    {
        "name": "exchanger",
        "in": "query",
        "required": False,
        "description": "Only rates from this exchanger (`coingeko`, the assignment's "
        "spelling, is coingecko).",
        "schema": {"type": "string", "enum": list(EXCHANGER_ALIASES)},
    },
]

IF_NONE_MATCH: dict[str, Any] = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "Entity tags from earlier answers (a list, weak tags, `*`): 304 when the "
    "answer's tag is among them.",
    "schema": {"type": "string"},
}


class Course(BaseModel):
    """One direction's rate, and where it came from."""

    direction: Direction
    value: float = Field(description="The rate, rounded half-even to 8 decimal places.")
    exchanger: Exchanger = Field(description="The exchanger that produced it.")
    updated_at: datetime = Field(
        description="The exchange's time of the oldest price behind the value (UTC, ms)."
    )
    stale: bool = Field(
        description="True when no source for the direction is alive: the newest value known."
    )
    via: list[Exchanger] = Field(
        default_factory=list,
        description="A cross rate's second leg: the exchanger of its USD-RUB price "
        "(present only on cross rates).",
    )


class Courses(BaseModel):
    """The courses asked for, in the fixed order of directions."""

    exchanger: Exchanger | None = Field(
        description="The highest-priority exchanger among the courses (the one asked for "
        "with `exchanger`); null when the filters leave no direction."
    )
    courses: list[Course] = Field(
        description="Empty when the filters exclude each other (`direction=BTC-USD&quote=RUB`)."
    )


class Problem(BaseModel):
    """Why a request was not answered with courses."""

    detail: str


def _header(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": schema or {"type": "string"}}


_ETAG = _header(
    "A strong tag of the body: every replica gives the same tag for the same rates.",
    {"type": "string", "pattern": '^"[A-Za-z0-9_-]+"$'},
)
_CACHE_CONTROL = _header("`public, max-age=1`: an answer is good for a second.")
_NO_STORE = _header("`no-store`: never cached.")

#: The courses routes' answers.
COURSES_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": Courses,
        "description": "The courses, in the fixed order of directions.",
        "headers": {"ETag": _ETAG, "Cache-Control": _CACHE_CONTROL},
        "content": {
            "application/json": {
                "example": {
                    "exchanger": "binance",
                    "courses": [
                        {
                            "direction": "BTC-USD",
                            "value": 97123.45,
                            "exchanger": "binance",
                            "updated_at": "2026-11-24T10:00:00.123Z",
                            "stale": False,
                        },
                        {
                            "direction": "BTC-RUB",
                            "value": 8984519.3,
                            "exchanger": "binance",
                            "updated_at": "2026-11-24T09:59:30.000Z",
                            "stale": False,
                            "via": ["coingecko"],
                        },
                    ],
                }
            }
        },
    },
    304: {
        "description": "Unchanged since the `If-None-Match` tag.",
        "headers": {"ETag": _ETAG, "Cache-Control": _CACHE_CONTROL},
    },
    422: {
        "model": Problem,
        "description": "An invalid parameter value; the message lists the valid ones.",
        "headers": {"Cache-Control": _NO_STORE},
    },
    503: {
        "model": Problem,
        "description": "No rate known yet for what was asked: ask again after `Retry-After`.",
        "headers": {
            "Retry-After": _header("Seconds to wait.", {"type": "integer", "minimum": 1}),
            "Cache-Control": _NO_STORE,
        },
    },
}

LAST_EVENT_ID: dict[str, Any] = {
    "name": "Last-Event-ID",
    "in": "header",
    "required": False,
    "description": "The `id` of the last event received (a reconnecting EventSource sends it): "
    "when it is the current answer's tag, the stream does not repeat that answer.",
    "schema": {"type": "string"},
}
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `retry:`, then `event: courses` with `id:` (the "
        "answer's ETag) and `data:` (the body `/api/v1/courses` answers), once now and once per "
        "change; comment lines keep the stream alive.",
        "headers": {"Cache-Control": _NO_STORE},
        "content": {
            "text/event-stream": {
                "schema": {"type": "string"},
                "example": 'retry: 1000\n\nevent: courses\nid: "mVZ..."\ndata: {"exchanger":'
                '"binance","courses":[...]}\n\n',
            }
        },
    },
    422: COURSES_RESPONSES[422],
    503: COURSES_RESPONSES[503],
}
