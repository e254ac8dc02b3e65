"""CoinGecko as the feeder sees it, pure: its values derived from the walk and cached, the
``simple/price`` answers, its rate limit and its errors.

CoinGecko caches ``/simple/price`` for about a minute, so its values lag the exchanges and move in
steps. The simulator derives them from the same walk the Binance endpoints serve, with the same
recipes the gateway uses: ``bitcoin.usd = BTCUSDT / USDCUSDT``, ``ethereum.usd = ETHUSDT /
USDCUSDT``, ``tether.usd = 1 / USDCUSDT``, ``<coin>.rub = <coin>.usd * USD-RUB``.

``GET /api/v3/simple/price?ids=bitcoin&vs_currencies=usd&include_last_updated_at=true``: one
object per known coin (unknown ids are left out), values as JSON numbers, ``last_updated_at`` in
unix seconds and only when asked for::

    {
      "bitcoin": {
        "usd": 67187.3358936566,
        "last_updated_at": 1711356300
      }
    }

Calls are limited per sliding minute (the Demo plan's budget, configurable); past it, 429 with
``Retry-After`` and::

    {"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit. ..."}}
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from http import HTTPStatus
from typing import Any

import msgspec

from common.backoff import SlidingWindowLimit
from common.markets import COINGECKO_IDS, COINGECKO_VS, coingecko_instrument
from simulator.faults import Skew, no_skew
from simulator.http import Request, Response
from simulator.market import Market

CONTENT_TYPE = "application/json; charset=utf-8"
RATE_LIMIT_MESSAGE = (
    "You've exceeded the Rate Limit. Please visit https://www.coingecko.com/en/api/pricing "
    "to subscribe to our API plans for higher rate limits."
)
# Decimals go out as JSON numbers, digit for digit, never through a binary float.
_encoder = msgspec.json.Encoder(decimal_format="number")


def encode(payload: Any) -> bytes:
    return _encoder.encode(payload)


#: CoinGecko answers with up to about 15 significant digits; eight decimals keep BTC-RUB there.
PLACES = Decimal("0.00000001")


def coingecko_values(
    prices: Mapping[str, Decimal], usd_rub: Decimal
) -> dict[str, dict[str, Decimal]]:
    """``{coin: {vs: value}}`` for every coin and vs currency the project reads."""
    usdc = prices["USDCUSDT"]
    usd = {
        "bitcoin": prices["BTCUSDT"] / usdc,
        "ethereum": prices["ETHUSDT"] / usdc,
        "tether": Decimal(1) / usdc,
    }
    fiat = {"usd": Decimal(1), "rub": usd_rub}
    return {
        coin: {vs: (usd[coin] * fiat[vs]).quantize(PLACES) for vs in COINGECKO_VS}
        for coin in COINGECKO_IDS
    }


@dataclass(frozen=True)
class Snapshot:
    """CoinGecko's values as of one moment."""

    values: dict[str, dict[str, Decimal]]
    last_updated_at: int  #: unix seconds of the snapshot
    step: int  #: the market step it was taken at


class SnapshotCache:
    """A new snapshot once the last one is ``period`` seconds old, like CoinGecko's cache."""

    def __init__(self, period: float, clock: Callable[[], float] = time.time) -> None:
        self.period = period
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._taken = 0.0

    def get(self, market: Market) -> Snapshot:
        """The current snapshot, refreshed from ``market`` if it expired."""
        now = self._clock()
        if self._snapshot is None or now - self._taken >= self.period:
            self._snapshot = Snapshot(
                values=coingecko_values(market.prices(), market.usd_rub),
                last_updated_at=int(now),
                step=market.step,
            )
            self._taken = now
        return self._snapshot


def split_list(value: str | None) -> list[str]:
    """A comma-separated query value as CoinGecko reads it: trimmed, lower case, deduplicated."""
    return list(dict.fromkeys(p.strip().lower() for p in (value or "").split(",") if p.strip()))


def simple_price(
    snapshot: Snapshot,
    ids: list[str],
    vs_currencies: list[str],
    include_last_updated_at: bool,
    skew: Skew = no_skew,
) -> dict[str, dict[str, Any]]:
    """The ``simple/price`` answer for ``ids`` and ``vs_currencies`` from ``snapshot``, each
    value multiplied by ``skew``'s factor for ``coin.vs``."""
    answer: dict[str, dict[str, Any]] = {}
    for coin in ids:
        values = snapshot.values.get(coin)
        if values is not None:
            entry: dict[str, Any] = {
                vs: _skewed(values[vs], skew(coingecko_instrument(coin, vs)))
                for vs in vs_currencies
                if vs in values
            }
            if include_last_updated_at:
                entry["last_updated_at"] = snapshot.last_updated_at
            answer[coin] = entry
    return answer


def _skewed(value: Decimal, factor: Decimal) -> Decimal:
    return value if factor == 1 else (value * factor).quantize(PLACES)


class CoinGeckoApi:
    """``simple/price`` over the simulated market's cached snapshot, with CoinGecko's limit."""

    def __init__(
        self,
        market: Market,
        cache: SnapshotCache,
        rate_limit: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.market = market
        self.cache = cache
        self.limit = SlidingWindowLimit(rate_limit, 60.0)
        self.clock = clock

    def __call__(self, request: Request, skew: Skew = no_skew) -> Response:
        if request.path != "/api/v3/simple/price":
            return self._json(404, {"error": "Not Found"})
        wait = self.limit.acquire(self.clock())
        if wait:
            return self.too_many_requests(max(1, math.ceil(wait)))
        ids = split_list(request.param("ids"))
        vs_currencies = split_list(request.param("vs_currencies"))
        if not vs_currencies:
            return self._json(400, {"error": "Missing parameter vs_currencies"})
        if not ids:
            return self._json(400, {"error": "Missing parameter ids"})
        include = (request.param("include_last_updated_at") or "").lower() == "true"
        snapshot = self.cache.get(self.market)
        return self._json(200, simple_price(snapshot, ids, vs_currencies, include, skew))

    def calls_last_minute(self) -> int:
        return self.limit.count(self.clock())

    def too_many_requests(self, retry_after: int) -> Response:
        payload = {"status": {"error_code": 429, "error_message": RATE_LIMIT_MESSAGE}}
        return self._json(429, payload, (("Retry-After", str(retry_after)),))

    def server_error(self, status: int) -> Response:
        phrase = HTTPStatus(status).phrase
        body = f"<html><head><title>{status} {phrase}</title></head><body>{phrase}</body></html>"
        return Response(status, body.encode(), "text/html")

    @staticmethod
    def _json(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        return Response(status, encode(payload), CONTENT_TYPE, headers)
