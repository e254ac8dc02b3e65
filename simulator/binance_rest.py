"""Binance's spot REST API, the part the project uses: ticker price, ping and server time.

Every answer carries ``X-MBX-USED-WEIGHT-1M``, the weight used this minute. Request weights are
the documented ones: ``ping`` and ``time`` 1; ``ticker/price`` 2 with ``symbol``, 4 with
``symbols`` or with neither. Past the minute's budget the answer is 429 with ``Retry-After`` and
error -1003. Sample payloads are in :mod:`simulator.binance_payloads`.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from common.logs import Throttle
from common.markets import BINANCE_SYMBOLS
from common.wire import now_ms
from simulator import binance_payloads as payloads
from simulator.http import Request, Response
from simulator.limits import WeightBudget
from simulator.market import Market

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json;charset=UTF-8"
USED_WEIGHT = "X-MBX-USED-WEIGHT-1M"
_SYMBOL = re.compile(payloads.SYMBOL_RANGE)
_SYMBOLS = re.compile(payloads.SYMBOLS_RANGE)

Answer = tuple[int, Any]


def ticker_price_weight(request: Request) -> int:
    return 2 if request.param("symbol") is not None else 4


def ticker_price(market: Market, symbol: str | None, symbols: str | None) -> Answer:
    """``GET /api/v3/ticker/price``: status and payload for the given parameters."""
    if symbol is not None and symbols is not None:
        return 400, payloads.error(*payloads.BAD_COMBINATION)
    if symbol is not None:
        return _one_price(market, symbol)
    if symbols is not None:
        return _some_prices(market, symbols)
    return 200, [payloads.ticker_price(name, market.price(name)) for name in BINANCE_SYMBOLS]


def _one_price(market: Market, symbol: str) -> Answer:
    if not _SYMBOL.match(symbol):
        return 400, payloads.illegal_chars("symbol", payloads.SYMBOL_RANGE)
    if symbol not in BINANCE_SYMBOLS:
        return 400, payloads.error(*payloads.INVALID_SYMBOL)
    return 200, payloads.ticker_price(symbol, market.price(symbol))


def _some_prices(market: Market, symbols: str) -> Answer:
    if not _SYMBOLS.match(symbols):
        return 400, payloads.illegal_chars("symbols", payloads.SYMBOLS_RANGE)
    wanted = list(dict.fromkeys(json.loads(symbols)))
    if any(name not in BINANCE_SYMBOLS for name in wanted):
        return 400, payloads.error(*payloads.INVALID_SYMBOL)
    return 200, [payloads.ticker_price(name, market.price(name)) for name in wanted]


class BinanceRest:
    """The REST API over the simulated market, with Binance's weight budget."""

    def __init__(self, market: Market, weight_limit: int, clock: Callable[[], float] = time.time):
        self.market = market
        self.budget = WeightBudget(weight_limit, 60.0, clock)
        self._throttle = Throttle(5.0)
        self._routes: dict[str, tuple[Callable[[Request], int], Callable[[Request], Answer]]] = {
            "/api/v3/ping": (lambda _: 1, lambda _: (200, {})),
            "/api/v3/time": (lambda _: 1, lambda _: (200, payloads.server_time(now_ms()))),
            "/api/v3/ticker/price": (
                ticker_price_weight,
                lambda request: ticker_price(
                    self.market, request.param("symbol"), request.param("symbols")
                ),
            ),
        }

    def __call__(self, request: Request) -> Response:
        route = self._routes.get(request.path)
        if route is None:
            return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        if request.method not in ("GET", "HEAD"):
            return self._json(405, payloads.error(-1000, "Only GET is supported here."), [])
        weight, answer = route
        charge = self.budget.charge(weight(request))
        used = [(USED_WEIGHT, str(charge.used))]
        if not charge.allowed:
            held = self._throttle.held_back_if_due()
            if held is not None:
                log.warning(
                    "binance-rest weight budget of %d spent; 429 for %d s (%d more held back)",
                    self.budget.limit,
                    charge.retry_after,
                    held,
                )
            return self._too_much(charge.retry_after, used)
        status, payload = answer(request)
        return self._json(status, payload, used)

    def too_many_requests(self, retry_after: int) -> Response:
        """An injected 429, worded as the weight limit's."""
        return self._too_much(retry_after, [(USED_WEIGHT, str(self.budget.used()))])

    def server_error(self, status: int) -> Response:
        return self._json(status, payloads.error(*payloads.INTERNAL_ERROR), [])

    def _too_much(self, retry_after: int, headers: list[tuple[str, str]]) -> Response:
        headers = [*headers, ("Retry-After", str(retry_after))]
        return self._json(429, payloads.too_much_weight(self.budget.limit), headers)

    @staticmethod
    def _json(status: int, payload: Any, headers: list[tuple[str, str]]) -> Response:
        return Response(status, payloads.encode(payload), CONTENT_TYPE, headers)
