"""CoinGecko's wire payloads, as its v3 API documentation shows them.

``GET /api/v3/simple/price?ids=bitcoin&vs_currencies=usd&include_last_updated_at=true``: one
object per known coin (unknown ids are left out), values as JSON numbers, ``last_updated_at`` in
unix seconds and only when asked for::

    {
      "bitcoin": {
        "usd": 67187.3358936566,
        "last_updated_at": 1711356300
      }
    }

``GET /api/v3/ping``::

    {"gecko_says": "(V3) To the Moon!"}

Past the rate limit, 429 with::

    {"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit. ..."}}

The simulator fills in only the price and ``last_updated_at``; ``include_market_cap`` and the
other extras are ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import msgspec

from simulator.snapshot import Snapshot

PING = {"gecko_says": "(V3) To the Moon!"}
RATE_LIMIT_MESSAGE = (
    "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing "
    "to subscribe to our API plans for higher rate limits."
)

# Decimals go out as JSON numbers, digit for digit, never through a binary float.
_encoder = msgspec.json.Encoder(decimal_format="number")


def encode(payload: Any) -> bytes:
    return _encoder.encode(payload)


def split_list(value: str | None) -> list[str]:
    """A comma-separated query value as CoinGecko reads it: trimmed, lower case, deduplicated."""
    if not value:
        return []
    return list(dict.fromkeys(part.strip().lower() for part in value.split(",") if part.strip()))


def parse_precision(value: str | None) -> int | None:
    """``precision``: ``full`` (or absent) keeps every digit, 0-18 rounds to that many decimals."""
    if value is None or value == "full":
        return None
    if value.isdigit() and 0 <= int(value) <= 18:
        return int(value)
    raise ValueError(value)


def simple_price(
    snapshot: Snapshot,
    ids: Sequence[str],
    vs_currencies: Sequence[str],
    include_last_updated_at: bool,
    precision: int | None = None,
) -> dict[str, dict[str, Any]]:
    """The ``simple/price`` answer for ``ids`` and ``vs_currencies`` from ``snapshot``."""
    answer: dict[str, dict[str, Any]] = {}
    for coin in ids:
        values = snapshot.values.get(coin)
        if values is None:
            continue
        entry: dict[str, Any] = {}
        for vs in vs_currencies:
            if vs in values:
                entry[vs] = _round(values[vs], precision)
        if include_last_updated_at:
            entry["last_updated_at"] = snapshot.last_updated_at
        answer[coin] = entry
    return answer


def _round(value: Decimal, precision: int | None) -> Decimal:
    if precision is None:
        return value
    return value.quantize(Decimal(1).scaleb(-precision))


def rate_limited() -> dict[str, Any]:
    return {"status": {"error_code": 429, "error_message": RATE_LIMIT_MESSAGE}}


def error(message: str) -> dict[str, str]:
    return {"error": message}
