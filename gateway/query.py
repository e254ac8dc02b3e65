"""The ``/courses`` query string: parsed once per distinct string, validated, never a 500.

``direction`` (repeatable or comma-separated), ``base``, ``quote`` (likewise) and ``exchanger``
narrow the answer; unknown parameter names are ignored (clients add cache-busters), unknown
values are refused with the list of valid ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

from common.markets import BINANCE, COINGECKO
from gateway.recipes import BASES, DIRECTIONS, QUOTES, base_of, quote_of

#: The assignment spells CoinGecko "coingeko"; both are accepted.
EXCHANGER_ALIASES = {BINANCE: BINANCE, COINGECKO: COINGECKO, "coingeko": COINGECKO}
MAX_QUERY_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Shape:
    """What one query asks for: directions in the fixed order, and an optional exchanger."""

    directions: tuple[str, ...]
    exchanger: str | None = None


ALL = Shape(DIRECTIONS)


class QueryError(ValueError):
    """A query the API refuses (422), with a message that says what is valid."""


def _values(pairs: list[tuple[str, str]], name: str, normalise) -> list[str]:
    values = []
    for key, raw in pairs:
        if key == name:
            values.extend(normalise(part.strip()) for part in raw.split(",") if part.strip())
    return values


def _check(values: list[str], valid: tuple[str, ...], name: str) -> set[str]:
    unknown = [value for value in values if value not in valid]
    if unknown:
        raise QueryError(
            f"invalid {name} {', '.join(map(repr, unknown))}; valid values: {', '.join(valid)}"
        )
    return set(values)


def parse_query(query: str) -> Shape:
    """The shape a query string asks for; raises ``QueryError``."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"query string longer than {MAX_QUERY_LENGTH} characters")
    pairs = parse_qsl(query, keep_blank_values=True)
    directions = _check(_values(pairs, "direction", str.upper), DIRECTIONS, "direction")
    bases = _check(_values(pairs, "base", str.upper), BASES, "base")
    quotes = _check(_values(pairs, "quote", str.upper), QUOTES, "quote")
    exchangers = _values(pairs, "exchanger", str.lower)
    _check(exchangers, tuple(EXCHANGER_ALIASES), "exchanger")
    chosen = {EXCHANGER_ALIASES[name] for name in exchangers}
    if len(chosen) > 1:
        raise QueryError(f"give at most one exchanger, not {', '.join(sorted(chosen))}")
    selected = tuple(
        direction
        for direction in DIRECTIONS
        if (not directions or direction in directions)
        and (not bases or base_of(direction) in bases)
        and (not quotes or quote_of(direction) in quotes)
    )
    if not selected:
        raise QueryError("no direction matches all of direction, base and quote together")
    return Shape(selected, chosen.pop() if chosen else None)


@lru_cache(maxsize=4096)
def shape_of(query_string: bytes) -> Shape | QueryError:
    """``parse_query`` memoised on the raw query string: pollers repeat the same few."""
    if not query_string:
        return ALL
    try:
        return parse_query(query_string.decode("latin-1"))
    except QueryError as error:
        return error
