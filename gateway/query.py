"""The ``/courses`` query string: parsed once per distinct string, validated, never a 500.

What the OpenAPI document says (``gateway.schema``) is what is accepted, exactly:

- ``direction``, ``base`` and ``quote`` each list values, repeated (``direction=BTC-USD&
  direction=ETH-RUB``) or comma-separated (``direction=BTC-USD,ETH-RUB``), spelt as listed
  (``BTC-USD``, not ``btc-usd``), no blanks; each at most as many times, and with at most as
  many values each time, as it has valid values;
- ``exchanger`` once: ``binance``, ``coingecko`` or the assignment's ``coingeko``.

The filters narrow together: what remains may be nothing (``direction=BTC-USD&quote=RUB``),
which is an answer, not an error. Unknown parameter names are ignored (clients add
cache-busters); anything else is refused (422) with a message saying what is valid.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl

from common.markets import BINANCE, COINGECKO
from gateway.recipes import BASES, DIRECTIONS, QUOTES, base_of, quote_of

#: The assignment spells CoinGecko "coingeko"; both are accepted.
EXCHANGER_ALIASES = {BINANCE: BINANCE, COINGECKO: COINGECKO, "coingeko": COINGECKO}
#: Parameters listing values, with the values each may list.
LISTS: dict[str, tuple[str, ...]] = {"direction": DIRECTIONS, "base": BASES, "quote": QUOTES}
#: Longer than any query the rules above allow (1,022 characters, commas encoded).
MAX_QUERY_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Shape:
    """What one query asks for: directions in the fixed order (none when the filters
    exclude each other), and an optional exchanger."""

    directions: tuple[str, ...]
    exchanger: str | None = None


ALL = Shape(DIRECTIONS)


class QueryError(ValueError):
    """A query the API refuses (422), with a message that says what is valid."""


def _listed(name: str, occurrences: list[str]) -> set[str] | None:
    """The values of a list parameter given ``occurrences`` times (None: not given)."""
    if not occurrences:
        return None
    valid = LISTS[name]
    if len(occurrences) > len(valid):
        raise QueryError(f"give {name} at most {len(valid)} times")
    values: set[str] = set()
    for occurrence in occurrences:
        parts = occurrence.split(",")
        unknown = [part for part in parts if part not in valid]
        if unknown:
            raise QueryError(
                f"invalid {name} {', '.join(map(repr, unknown))}; valid values: {', '.join(valid)}"
            )
        if len(parts) > len(valid):
            raise QueryError(f"at most {len(valid)} values in one {name}")
        values.update(parts)
    return values


def _exchanger(occurrences: list[str]) -> str | None:
    if not occurrences:
        return None
    if len(occurrences) > 1:
        raise QueryError("give exchanger once")
    name = occurrences[0]
    if name not in EXCHANGER_ALIASES:
        raise QueryError(
            f"invalid exchanger {name!r}; valid values: {', '.join(EXCHANGER_ALIASES)}"
        )
    return EXCHANGER_ALIASES[name]


def parse_query(query: str) -> Shape:
    """The shape a query string asks for; raises ``QueryError``."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(f"query string longer than {MAX_QUERY_LENGTH} characters")
    given: dict[str, list[str]] = {name: [] for name in (*LISTS, "exchanger")}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in given:
            given[key].append(value)
    directions = _listed("direction", given["direction"])
    bases = _listed("base", given["base"])
    quotes = _listed("quote", given["quote"])
    selected = tuple(
        direction
        for direction in DIRECTIONS
        if (directions is None or direction in directions)
        and (bases is None or base_of(direction) in bases)
        and (quotes is None or quote_of(direction) in quotes)
    )
    return Shape(selected, _exchanger(given["exchanger"]))


@lru_cache(maxsize=4096)
def shape_of(query_string: bytes) -> Shape | QueryError:
    """``parse_query`` memoised on the raw query string: pollers repeat the same few."""
    if not query_string:
        return ALL
    try:
        return parse_query(query_string.decode("latin-1"))
    except QueryError as error:
        return error
