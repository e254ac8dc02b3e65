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

from gateway.history_query import CURRENCIES, MAX_CANDLES
from gateway.history_table import INTERVALS
from gateway.query import EXCHANGER_ALIASES, LISTS
from gateway.recipes import DIRECTIONS, EXCHANGERS

Direction = Literal[DIRECTIONS]  # type: ignore[valid-type]
Exchanger = Literal[EXCHANGERS]  # type: ignore[valid-type]
Currency = Literal[CURRENCIES]  # type: ignore[valid-type]

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


class LegPrice(BaseModel):
    """One price behind a course, with its own time."""

    source: Exchanger = Field(description="The exchanger that quoted it.")
    instrument: str = Field(
        description="The source's own name for it: a Binance symbol (`BTCUSDT`) or a "
        "CoinGecko coin and currency (`bitcoin.rub`)."
    )
    price: float = Field(description="The price as the exchange gave it.")
    at: datetime = Field(description="The exchange's time of this price (UTC, ms).")


class Course(BaseModel):
    """One direction's rate, and where it came from."""

    direction: Direction
    value: float = Field(description="The rate, rounded half-even to 8 decimal places.")
    exchanger: Exchanger = Field(description="The exchanger that produced it.")
    updated_at: datetime = Field(
        description="The exchange's time of the newest price behind the value, when the value "
        "last changed (UTC, ms); each leg's own time is in `legs`."
    )
    stale: bool = Field(
        description="True when no source for the direction is alive: the newest value known."
    )
    via: list[Exchanger] = Field(
        default_factory=list,
        description="A cross rate's second leg: the exchanger of its USD-RUB price "
        "(present only on cross rates).",
    )
    legs: list[LegPrice] = Field(
        description="Every price behind the value, in the order the recipe combines them; "
        "the oldest is still visible here."
    )
    deviation: float | None = Field(
        default=None,
        description="Relative deviation of the value from the other exchanger's fresh value "
        "for the direction (`served / other - 1`); present only while both are fresh, and "
        "not in answers filtered by `exchanger` (it would change them with every tick of "
        "the other exchanger).",
    )
    disputed: bool = Field(
        description="True when the two exchangers disagree by more than the guard's threshold."
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

#: The example's BTC-USD legs, which its BTC-RUB cross rate takes too.
_BINANCE_BTC_USD_LEGS = [
    {
        "source": "binance",
        "instrument": "BTCUSDT",
        "price": 97133.16,
        "at": "2026-11-24T10:00:00.123Z",
    },
    {
        "source": "binance",
        "instrument": "USDCUSDT",
        "price": 1.0001,
        "at": "2026-11-24T09:59:58.406Z",
    },
]

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
                            "value": 97123.44765523,
                            "exchanger": "binance",
                            "updated_at": "2026-11-24T10:00:00.123Z",
                            "stale": False,
                            "legs": _BINANCE_BTC_USD_LEGS,
                            "deviation": 0.000283,
                            "disputed": False,
                        },
                        {
                            "direction": "BTC-RUB",
                            "value": 8984344.49286281,
                            "exchanger": "binance",
                            "updated_at": "2026-11-24T10:00:00.123Z",
                            "stale": False,
                            "via": ["coingecko"],
                            "legs": [
                                *_BINANCE_BTC_USD_LEGS,
                                {
                                    "source": "coingecko",
                                    "instrument": "bitcoin.rub",
                                    "price": 8972000.0,
                                    "at": "2026-11-24T09:59:30.000Z",
                                },
                                {
                                    "source": "coingecko",
                                    "instrument": "bitcoin.usd",
                                    "price": 96990.0,
                                    "at": "2026-11-24T09:59:30.000Z",
                                },
                            ],
                            "deviation": 0.000294,
                            "disputed": False,
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

# The history routes (gateway.history_api): what gateway.history_query accepts, exactly.

_TIME_EXAMPLE = "2026-11-24T10:00:00Z"


def _time_parameter(name: str, required: bool, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": f"{description} An RFC 3339 time with an offset, from 1970 on, "
        f"e.g. `{_TIME_EXAMPLE}`.",
        "schema": {"type": "string", "format": "date-time"},
    }


_DIRECTION_PARAMETER: dict[str, Any] = {
    "name": "direction",
    "in": "query",
    "required": True,
    "description": "One direction.",
    "schema": {"type": "string", "enum": list(DIRECTIONS)},
}

HISTORY_PARAMETERS: list[dict[str, Any]] = [
    _DIRECTION_PARAMETER,
    _time_parameter("from", True, "The first candle is the one holding this time."),
    _time_parameter("to", False, "Candles starting before this time (default: now)."),
    {
        "name": "interval",
        "in": "query",
        "required": False,
        "description": "Each candle's width (default 1m). At most 1,000 candles per answer.",
        "schema": {"type": "string", "enum": list(INTERVALS), "default": "1m"},
    },
]

AT_PARAMETERS: list[dict[str, Any]] = [
    _DIRECTION_PARAMETER,
    _time_parameter("time", True, "The instant asked about (not in the future)."),
]

CONVERT_PARAMETERS: list[dict[str, Any]] = [
    *(
        {
            "name": name,
            "in": "query",
            "required": True,
            "description": f"{description} A direction's base and quote, either way round.",
            "schema": {"type": "string", "enum": list(CURRENCIES)},
        }
        for name, description in (("from", "The amount's currency."), ("to", "The result's."))
    ),
    {
        "name": "amount",
        "in": "query",
        "required": True,
        "description": "A positive decimal amount, e.g. `0.25`.",
        "schema": {"type": "string", "pattern": r"^\d{1,18}(\.\d{1,18})?$"},
    },
    _time_parameter("time", False, "Convert at the course served then (default: now)."),
]


class Candle(BaseModel):
    """One interval of a direction's served values."""

    time: datetime = Field(description="The interval's start (UTC).")
    open: float = Field(description="The first value served in the interval.")
    high: float
    low: float
    close: float = Field(description="The last value served in the interval.")
    exchanger: Exchanger = Field(description="The exchanger of the close.")


class History(BaseModel):
    """A direction's candles, oldest first; intervals where nothing was stored are absent."""

    direction: Direction
    interval: Literal[tuple(INTERVALS)]  # type: ignore[valid-type]
    candles: list[Candle] = Field(max_length=MAX_CANDLES)


class Served(BaseModel):
    """A course as it was served."""

    direction: Direction
    value: float = Field(description="The rate, rounded half-even to 8 decimal places.")
    exchanger: Exchanger
    updated_at: datetime = Field(description="The exchange time behind the value (UTC, ms).")
    served_from: datetime | None = Field(
        default=None, description="When it began to be served (stored values only)."
    )
    stale: bool
    disputed: bool
    via: list[Exchanger] = Field(default_factory=list, description="A cross rate's legs.")
    legs: list[LegPrice] = Field(
        description="The prices behind the value (from the stored ticks: empty once they are "
        "deleted by retention)."
    )


class ServedAt(Served):
    """The course served at ``time``."""

    time: datetime = Field(description="The instant asked about.")


class Conversion(BaseModel):
    """An amount converted at a course."""

    from_: Currency = Field(alias="from")
    to: Currency
    amount: float
    result: float = Field(
        description="amount × course (÷ when converting from the quote), "
        "rounded half-even to 8 decimal places."
    )
    course: Served
    time: datetime | None = Field(default=None, description="The instant asked about.")


_CACHE_HISTORY = _header(
    "`public, max-age=1`; a range of closed candles only (an explicit `to` long enough ago): "
    "a long max-age, `immutable`."
)


def _answers(
    model: type[BaseModel], description: str, extra: dict[int | str, Any] | None = None
) -> dict[int | str, Any]:
    return {
        200: {
            "model": model,
            "description": description,
            "headers": {"ETag": _ETAG, "Cache-Control": _CACHE_HISTORY},
        },
        304: {
            "description": "Unchanged since the `If-None-Match` tag.",
            "headers": {"ETag": _ETAG, "Cache-Control": _CACHE_HISTORY},
        },
        422: COURSES_RESPONSES[422],
        503: {
            "model": Problem,
            "description": "No database, or it is not answering (or no current rate): "
            "ask again after `Retry-After`.",
            "headers": COURSES_RESPONSES[503]["headers"],
        },
        **(extra or {}),
    }


_NOT_FOUND: dict[int | str, Any] = {
    404: {
        "model": Problem,
        "description": "Nothing stored at or before that time.",
        "headers": {"Cache-Control": _NO_STORE},
    }
}

HISTORY_RESPONSES = _answers(History, "The candles, oldest first.")
AT_RESPONSES = _answers(ServedAt, "The course served at that instant.", _NOT_FOUND)
CONVERT_RESPONSES = _answers(Conversion, "The converted amount.", _NOT_FOUND)
