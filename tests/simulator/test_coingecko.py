from __future__ import annotations

import json
from decimal import Decimal

import pytest

from simulator.coingecko import (
    PLACES,
    CoinGeckoApi,
    Snapshot,
    SnapshotCache,
    coingecko_values,
    encode,
    simple_price,
    split_list,
)
from simulator.http import Request
from simulator.market import Market
from tests.simulator.samples import SIMPLE_PRICE, shape

SNAPSHOT = Snapshot(
    values={
        "bitcoin": {"usd": Decimal("96990.30096990"), "rub": Decimal("8971602.83971603")},
        "ethereum": {"usd": Decimal("3399.66003400"), "rub": Decimal("314468.55314469")},
        "tether": {"usd": Decimal("0.99990001"), "rub": Decimal("92.49075092")},
    },
    last_updated_at=1_711_356_300,
    step=7,
)


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_values_follow_the_recipes():
    prices = {
        "BTCUSDT": Decimal("97000.00"),
        "ETHUSDT": Decimal("3400.00"),
        "USDCUSDT": Decimal("1.0001"),
    }
    values = coingecko_values(prices, Decimal("92.5000"))
    assert values == SNAPSHOT.values
    assert all(v.as_tuple().exponent == -8 for coin in values.values() for v in coin.values())


def test_a_snapshot_holds_for_the_cache_period_then_is_the_walk_of_that_moment():
    market, clock = Market(42), Clock()
    cache = SnapshotCache(60.0, clock)
    first = cache.get(market)
    market.advance()
    clock.now += 59.9
    assert cache.get(market) is first
    clock.now += 0.1
    second = cache.get(market)
    assert (second.step, second.last_updated_at) == (1, 1_700_000_060)
    assert second.values == coingecko_values(market.prices(), market.usd_rub)
    usd = market.price("BTCUSDT") / market.price("USDCUSDT")
    assert second.values["bitcoin"]["rub"] == (usd * market.usd_rub).quantize(PLACES)


def test_simple_price_matches_the_documentation_and_sends_exact_numbers():
    answer = simple_price(SNAPSHOT, ["bitcoin"], ["usd"], True)
    assert shape(json.loads(encode(answer))) == shape(SIMPLE_PRICE)
    every = simple_price(SNAPSHOT, ["bitcoin", "ethereum", "tether"], ["usd", "rub"], False)
    assert encode(every) == (
        b'{"bitcoin":{"usd":96990.30096990,"rub":8971602.83971603},'
        b'"ethereum":{"usd":3399.66003400,"rub":314468.55314469},'
        b'"tether":{"usd":0.99990001,"rub":92.49075092}}'
    )


def test_unknown_ids_and_currencies_are_left_out():
    answer = simple_price(SNAPSHOT, ["dogecoin", "tether"], ["eur", "rub"], True)
    assert answer == {"tether": {"rub": Decimal("92.49075092"), "last_updated_at": 1_711_356_300}}
    assert not simple_price(SNAPSHOT, ["dogecoin"], ["usd"], True)
    assert split_list(" Bitcoin, tether,,bitcoin ") == ["bitcoin", "tether"]


@pytest.fixture(name="api")
def api_fixture() -> CoinGeckoApi:
    clock = Clock()
    return CoinGeckoApi(Market(42), SnapshotCache(60.0, clock), rate_limit=3, clock=clock)


def get(api: CoinGeckoApi, target: str) -> tuple[int, object, dict[str, str]]:
    response = api(Request("GET", target))
    return response.status, json.loads(response.body), dict(response.headers)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ids=bitcoin", "Missing parameter vs_currencies"),
        ("vs_currencies=usd", "Missing parameter ids"),
    ],
)
def test_bad_parameters(api, query, message):
    assert get(api, f"/api/v3/simple/price?{query}")[:2] == (400, {"error": message})


def test_past_the_rate_limit_429_until_a_call_fits(api):
    price = "/api/v3/simple/price?ids=tether&vs_currencies=usd"
    assert get(api, price)[:2] == (200, {"tether": {"usd": 0.99990001}})
    get(api, price)
    api.clock.now += 20
    get(api, price)
    status, body, headers = get(api, price)
    assert status == 429 and body["status"]["error_code"] == 429
    assert headers["Retry-After"] == "40"
    assert api.calls_last_minute() == 3
    api.clock.now += 40
    assert get(api, price)[0] == 200
    assert get(api, "/api/v3/ping")[:2] == (404, {"error": "Not Found"})
