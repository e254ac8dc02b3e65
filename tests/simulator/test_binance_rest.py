from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from simulator.binance_rest import BinanceRest
from simulator.http import Request
from simulator.market import Market
from tests.simulator.samples import ERROR, TICKER_PRICE, shape

SYMBOLS_RANGE = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000_040.0  # 20 s into a minute

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="api")
def api_fixture() -> BinanceRest:
    market = Market(42)
    market.advance_to(4)
    return BinanceRest(market, weight_limit=20, clock=Clock())


def get(api: BinanceRest, target: str) -> tuple[int, object, dict[str, str]]:
    response = api(Request("GET", target, "HTTP/1.1", {}))
    return response.status, json.loads(response.body), dict(response.headers)


def test_one_symbol(api):
    status, body, headers = get(api, "/api/v3/ticker/price?symbol=BTCUSDT")
    assert status == 200
    assert shape(body) == shape(TICKER_PRICE)
    assert body == {"symbol": "BTCUSDT", "price": "97064.08000000"}
    assert headers["X-MBX-USED-WEIGHT-1M"] == "2"


def test_some_symbols_url_encoded_as_the_docs_say(api):
    symbols = quote('["ETHUSDT","BTCUSDT"]')
    status, body, headers = get(api, f"/api/v3/ticker/price?symbols={symbols}")
    assert status == 200
    assert body == [
        {"symbol": "ETHUSDT", "price": "3395.65000000"},
        {"symbol": "BTCUSDT", "price": "97064.08000000"},
    ]
    assert headers["X-MBX-USED-WEIGHT-1M"] == "4"


def test_all_symbols(api):
    status, body, _ = get(api, "/api/v3/ticker/price")
    assert status == 200
    assert [item["symbol"] for item in body] == ["BTCUSDT", "ETHUSDT", "USDCUSDT"]
    assert body[2]["price"] == "1.00000000"


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("symbol=DOGEUSDT", ERROR),
        ("symbols=" + quote('["BTCUSDT","DOGEUSDT"]'), ERROR),
        (
            "symbol=btcusdt",
            {
                "code": -1100,
                "msg": "Illegal characters found in parameter 'symbol'; "
                "legal range is '^[A-Z0-9-_.]{1,20}$'.",
            },
        ),
        (
            "symbols=" + quote('["BTCUSDT", "ETHUSDT"]'),
            {
                "code": -1100,
                "msg": "Illegal characters found in parameter 'symbols'; "
                f"legal range is '{SYMBOLS_RANGE}'.",
            },
        ),
        (
            "symbol=BTCUSDT&symbols=" + quote('["BTCUSDT"]'),
            {"code": -1128, "msg": "Combination of optional parameters invalid."},
        ),
    ],
)
def test_errors_in_binance_format(api, query, body):
    status, answer, headers = get(api, f"/api/v3/ticker/price?{query}")
    assert (status, answer) == (400, body)
    assert "X-MBX-USED-WEIGHT-1M" in headers


def test_ping_and_time(api):
    assert get(api, "/api/v3/ping")[:2] == (200, {})
    status, body, headers = get(api, "/api/v3/time")
    assert status == 200 and list(body) == ["serverTime"] and isinstance(body["serverTime"], int)
    assert headers["X-MBX-USED-WEIGHT-1M"] == "2"


def test_weight_budget_then_429_with_retry_after(api):
    used = [get(api, "/api/v3/ticker/price")[2]["X-MBX-USED-WEIGHT-1M"] for _ in range(5)]
    assert used == ["4", "8", "12", "16", "20"]
    status, body, headers = get(api, "/api/v3/ticker/price")
    assert status == 429
    assert body["code"] == -1003
    assert "current limit is 20 request weight per 1 MINUTE" in body["msg"]
    assert headers["Retry-After"] == "40"
    assert headers["X-MBX-USED-WEIGHT-1M"] == "20"


def test_unknown_paths_and_methods(api):
    assert api(Request("GET", "/api/v3/klines", "HTTP/1.1", {})).status == 404
    assert api(Request("POST", "/api/v3/ping", "HTTP/1.1", {})).status == 405
