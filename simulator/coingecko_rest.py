"""CoinGecko's v3 API, the part the project uses: ``simple/price`` and ``ping``.

Calls are limited per rolling minute (the Demo plan's budget, configurable); past it the answer
is 429 with CoinGecko's error body and ``Retry-After``. A Demo API key is accepted in the
``x-cg-demo-api-key`` header or the ``x_cg_demo_api_key`` query parameter and counted, not checked.
Sample payloads are in :mod:`simulator.coingecko_payloads`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from typing import Any

from common.logs import Throttle
from simulator import coingecko_payloads as payloads
from simulator.http import Request, Response
from simulator.limits import RollingLimit
from simulator.market import Market
from simulator.snapshot import SnapshotCache

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/json; charset=utf-8"
API_KEY_HEADER = "x-cg-demo-api-key"
API_KEY_PARAM = "x_cg_demo_api_key"


class CoinGeckoRest:
    """The REST API over the simulated market's cached snapshot, with CoinGecko's rate limit."""

    def __init__(
        self,
        market: Market,
        cache: SnapshotCache,
        rate_limit: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.market = market
        self.cache = cache
        self.limit = RollingLimit(rate_limit, 60.0, clock)
        self.with_api_key = 0
        self._throttle = Throttle(5.0)

    def __call__(self, request: Request) -> Response:
        if request.path not in ("/api/v3/ping", "/api/v3/simple/price"):
            return self._json(404, payloads.error("Not Found"))
        wait = self.limit.acquire()
        if wait:
            held = self._throttle.held_back_if_due()
            if held is not None:
                log.warning(
                    "coingecko rate limit of %d calls a minute reached (%d more held back)",
                    self.limit.limit,
                    held,
                )
            return self.too_many_requests(max(1, math.ceil(wait)))
        if request.header(API_KEY_HEADER) or request.param(API_KEY_PARAM):
            self.with_api_key += 1
        if request.path == "/api/v3/ping":
            return self._json(200, payloads.PING)
        return self._simple_price(request)

    def _simple_price(self, request: Request) -> Response:
        ids = payloads.split_list(request.param("ids"))
        vs_currencies = payloads.split_list(request.param("vs_currencies"))
        if not vs_currencies:
            return self._json(400, payloads.error("Missing parameter vs_currencies"))
        if not ids:
            return self._json(400, payloads.error("Missing parameter ids"))
        try:
            precision = payloads.parse_precision(request.param("precision"))
        except ValueError:
            return self._json(400, payloads.error("Invalid precision"))
        include = (request.param("include_last_updated_at") or "").lower() == "true"
        snapshot = self.cache.get(self.market)
        answer = payloads.simple_price(snapshot, ids, vs_currencies, include, precision)
        return self._json(200, answer)

    def too_many_requests(self, retry_after: int) -> Response:
        return self._json(429, payloads.rate_limited(), [("Retry-After", str(retry_after))])

    def server_error(self, status: int) -> Response:
        phrase = {500: "Internal Server Error", 502: "Bad Gateway"}.get(
            status, "Service Unavailable"
        )
        body = f"<html><head><title>{status} {phrase}</title></head><body>{phrase}</body></html>"
        return Response(status, body.encode(), "text/html")

    @staticmethod
    def _json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        return Response(status, payloads.encode(payload), CONTENT_TYPE, headers or [])
