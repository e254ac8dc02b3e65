from __future__ import annotations

import json

import pytest

from simulator.coingecko_rest import CoinGeckoRest
from simulator.http import Request
from simulator.market import Market
from simulator.snapshot import SnapshotCache


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


@pytest.fixture(name="api")
def api_fixture(clock: Clock) -> CoinGeckoRest:
    market = Market(42)
    return CoinGeckoRest(market, SnapshotCache(60.0, clock), rate_limit=3, clock=clock)


def get(api: CoinGeckoRest, target: str, headers: dict[str, str] | None = None):
    response = api(Request("GET", target, "HTTP/1.1", headers or {}))
    return response.status, json.loads(response.body), dict(response.headers)


def test_simple_price(api):
    status, body, _ = get(
        api,
        "/api/v3/simple/price?ids=bitcoin,ethereum,tether,notacoin&vs_currencies=usd,rub"
        "&include_last_updated_at=true",
    )
    assert status == 200
    assert list(body) == ["bitcoin", "ethereum", "tether"]
    assert body["bitcoin"] == {
        "usd": 96990.3009699,
        "rub": 8971602.83971603,
        "last_updated_at": 1_700_000_000,
    }


def test_last_updated_at_only_when_asked(api):
    _, body, _ = get(api, "/api/v3/simple/price?ids=tether&vs_currencies=usd")
    assert body == {"tether": {"usd": 0.99990001}}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("ids=bitcoin", "Missing parameter vs_currencies"),
        ("vs_currencies=usd", "Missing parameter ids"),
        ("ids=bitcoin&vs_currencies=usd&precision=99", "Invalid precision"),
    ],
)
def test_bad_parameters(api, query, message):
    assert get(api, f"/api/v3/simple/price?{query}")[:2] == (400, {"error": message})


def test_ping_and_rate_limit(api, clock):
    assert get(api, "/api/v3/ping")[:2] == (200, {"gecko_says": "(V3) To the Moon!"})
    get(api, "/api/v3/ping", {"x-cg-demo-api-key": "CG-key"})
    get(api, "/api/v3/ping?x_cg_demo_api_key=CG-key")
    assert api.with_api_key == 2
    clock.now += 20
    status, body, headers = get(api, "/api/v3/ping")
    assert status == 429
    assert body["status"]["error_code"] == 429
    assert headers["Retry-After"] == "40"
    clock.now += 40
    assert get(api, "/api/v3/ping")[0] == 200


def test_unknown_path(api):
    assert get(api, "/api/v3/coins/list")[:2] == (404, {"error": "Not Found"})
