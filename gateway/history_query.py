"""The history routes' query strings: parsed, validated, never a 500.

``/api/v1/courses/history`` takes ``direction``, ``from``, ``to`` (default: now) and
``interval``; ``/api/v1/courses/at`` takes ``direction`` and ``time``; ``/api/v1/convert`` takes
``from``, ``to``, ``amount`` and optionally ``time``. Each is given at most once; unknown names
are ignored (cache-busters), anything else is refused (422) with a message saying what is valid.
Times are RFC 3339 with an offset (``2026-11-24T10:00:00Z``, ``...+03:00``), from 1970 on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from urllib.parse import parse_qsl

from gateway.history_table import INTERVALS
from gateway.query import MAX_QUERY_LENGTH, QueryError
from gateway.recipes import BASES, DIRECTIONS, QUOTES

#: Candles in one answer at most.
MAX_CANDLES = 1000
#: Currencies ``/convert`` knows, in the order its messages list them.
CURRENCIES: tuple[str, ...] = (*BASES, *QUOTES)

_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?P<fraction>\.\d+)?(?P<offset>[Zz]|[+-]\d{2}:\d{2})"
)
#: A positive decimal amount: digits, an optional fraction, nothing else.
_AMOUNT = re.compile(r"\d{1,18}(\.\d{1,18})?")


def parse_time(name: str, text: str) -> int:
    """An RFC 3339 time as epoch milliseconds; raises ``QueryError``."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise QueryError(
            f"invalid {name} {text!r}: give an RFC 3339 time with an offset, "
            "e.g. 2026-11-24T10:00:00Z"
        )
    fraction = match["fraction"] or ""
    normal = text[: match.start("fraction")] if fraction else text[: match.start("offset")]
    normal = normal.replace("t", "T").replace(" ", "T") + fraction[:7]
    offset = match["offset"]
    normal += "+00:00" if offset in ("Z", "z") else offset
    try:
        moment = datetime.fromisoformat(normal)
    except ValueError as error:
        raise QueryError(f"invalid {name} {text!r}: {error}") from None
    epoch_ms = int(moment.timestamp() * 1000)
    if epoch_ms < 0:
        raise QueryError(f"invalid {name} {text!r}: give a time from 1970 on")
    return epoch_ms


def _given(query: str, names: tuple[str, ...]) -> dict[str, str]:
    """Each of ``names`` given in ``query``, at most once; raises ``QueryError``."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"query string longer than {MAX_QUERY_LENGTH} characters")
    given: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in names:
            if key in given:
                raise QueryError(f"give {key} once")
            given[key] = value
    return given


def _required(given: dict[str, str], name: str, example: str) -> str:
    if name not in given:
        raise QueryError(f"{name} is required, e.g. {name}={example}")
    return given[name]


def _direction(given: dict[str, str]) -> str:
    direction = _required(given, "direction", DIRECTIONS[1])
    if direction not in DIRECTIONS:
        raise QueryError(f"invalid direction {direction!r}; valid values: {', '.join(DIRECTIONS)}")
    return direction


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    direction: str
    interval: str
    width: int  #: seconds per candle
    from_s: int  #: the first candle's start, a multiple of ``width``
    to_s: int  #: candles start before this
    to_given: bool  #: False: ``to`` is the moment of the request


def parse_history(query: str, now_ms: int) -> HistoryQuery:
    """The candles ``query`` asks for at ``now_ms``; raises ``QueryError``."""
    given = _given(query, ("direction", "from", "to", "interval"))
    direction = _direction(given)
    interval = given.get("interval", "1m")
    if interval not in INTERVALS:
        raise QueryError(f"invalid interval {interval!r}; valid values: {', '.join(INTERVALS)}")
    width = INTERVALS[interval]
    from_ms = parse_time("from", _required(given, "from", "2026-11-24T10:00:00Z"))
    to_ms = parse_time("to", given["to"]) if "to" in given else now_ms
    if to_ms <= from_ms:
        raise QueryError("from must be before to")
    from_s = from_ms // 1000 // width * width
    to_s = -(-to_ms // 1000)  # up to the second: a candle starting at to's fraction counts
    count = -(-(to_s - from_s) // width)
    if count > MAX_CANDLES:
        raise QueryError(
            f"at most {MAX_CANDLES} candles per answer; this range holds {count} of "
            f"{interval}: narrow from and to, or choose a wider interval"
        )
    return HistoryQuery(direction, interval, width, from_s, to_s, "to" in given)


@dataclass(frozen=True, slots=True)
class AtQuery:
    direction: str
    at_ms: int


def parse_at(query: str, now_ms: int) -> AtQuery:
    """The direction and instant ``query`` asks about; raises ``QueryError``."""
    given = _given(query, ("direction", "time"))
    direction = _direction(given)
    at_ms = parse_time("time", _required(given, "time", "2026-11-24T10:00:00Z"))
    if at_ms > now_ms:
        raise QueryError("time is in the future: nothing was served then yet")
    return AtQuery(direction, at_ms)


@dataclass(frozen=True, slots=True)
class ConvertQuery:
    direction: str  #: the course used
    inverse: bool  #: True: the amount is in the direction's quote currency
    amount: Decimal
    amount_text: str
    at_ms: int | None  #: None: now


def parse_convert(query: str, now_ms: int) -> ConvertQuery:
    """What ``query`` asks to convert; raises ``QueryError``."""
    given = _given(query, ("from", "to", "amount", "time"))
    currencies = {}
    for name, example in (("from", "BTC"), ("to", "RUB")):
        currency = _required(given, name, example)
        if currency not in CURRENCIES:
            raise QueryError(f"invalid {name} {currency!r}; valid values: {', '.join(CURRENCIES)}")
        currencies[name] = currency
    pair = f"{currencies['from']}-{currencies['to']}"
    inverse_pair = f"{currencies['to']}-{currencies['from']}"
    if pair not in DIRECTIONS and inverse_pair not in DIRECTIONS:
        raise QueryError(
            f"no course between {currencies['from']} and {currencies['to']}; "
            f"directions: {', '.join(DIRECTIONS)} (either way)"
        )
    text = _required(given, "amount", "0.25")
    if _AMOUNT.fullmatch(text) is None or Decimal(text) == 0:
        raise QueryError(
            f"invalid amount {text!r}: a positive decimal number such as 0.25 "
            "(at most 18 digits before and 18 after the point)"
        )
    at_ms = None
    if "time" in given:
        at_ms = parse_time("time", given["time"])
        if at_ms > now_ms:
            raise QueryError("time is in the future: nothing was served then yet")
    inverse = pair not in DIRECTIONS
    return ConvertQuery(inverse_pair if inverse else pair, inverse, Decimal(text), text, at_ms)
