"""A client tells "nothing matches" (200, no course) from "not known yet" (503, Retry-After)."""

from __future__ import annotations

import time

import httpx

from common.wire import now_ms
from gateway.app import create_app
from gateway.settings import GatewaySettings
from tests.gateway.ticks import binance_ticks

DISJOINT = "/api/v1/courses?direction=BTC-USD&base=BTC&quote=RUB"


async def _get(app, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.get(path)


async def test_filters_that_exclude_each_other_match_nothing_with_or_without_rates():
    app = create_app(GatewaySettings())
    empty = await _get(app, DISJOINT)
    assert empty.status_code == 200
    assert empty.json() == {"exchanger": None, "courses": []}
    assert empty.headers["etag"] and "max-age" in empty.headers["cache-control"]
    asked = await _get(app, DISJOINT + "&exchanger=coingeko")
    assert asked.json() == {"exchanger": "coingecko", "courses": []}


async def test_a_direction_not_known_yet_is_a_503_to_retry():
    app = create_app(GatewaySettings())
    rates = app.state.gateway.rates
    now = time.monotonic()
    for tick in binance_ticks(now_ms()):  # Binance's USD legs: no RUB yet, no CoinGecko
        rates.apply(tick, now)
    rates.reprice(now)
    assert (await _get(app, "/api/v1/courses?direction=BTC-USD")).status_code == 200
    for path in ("/api/v1/courses?direction=BTC-RUB", "/courses?exchanger=coingecko"):
        response = await _get(app, path)
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "1"
        assert "no rate known yet" in response.json()["detail"]
