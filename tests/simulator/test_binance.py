from __future__ import annotations

import json
import re
from decimal import Decimal
from urllib.parse import quote

import pytest

from simulator import binance
from simulator.binance import BinanceApi
from simulator.http import Request
from simulator.market import Market
from tests.simulator.samples import (
    ERROR,
    MINI_TICKER,
    SERVER_SHUTDOWN_COMBINED,
    TICKER_PRICE,
    shape,
)

EIGHT_DECIMALS = re.compile(r"^\d+\.\d{8}$")


@pytest.fixture(name="market")
def market_fixture() -> Market:
    market = Market(42)
    for _ in range(4):
        market.advance()
    return market


def test_mini_ticker_matches_the_documented_payload(market):
    event = binance.mini_ticker(market.ticker("BTCUSDT"), 1_700_000_000_123)
    assert shape(event) == shape(MINI_TICKER)
    assert event["E"] == 1_700_000_000_123
    assert event["s"] == "BTCUSDT"
    assert event["c"] == f"{market.price('BTCUSDT')}000000"
    assert Decimal(event["l"]) <= Decimal(event["c"]) <= Decimal(event["h"])
    assert Decimal(event["l"]) <= Decimal(event["o"]) <= Decimal(event["h"])
    assert Decimal(event["q"]) == Decimal(event["v"]) * Decimal(event["c"])
    for key in "cohlvq":
        assert EIGHT_DECIMALS.match(event[key]), event[key]


def test_combined_envelopes_match_the_documentation():
    envelope = binance.combined("btcusdt@miniTicker", {"e": "x"})
    assert binance.encode(envelope) == b'{"stream":"btcusdt@miniTicker","data":{"e":"x"}}'
    shutdown = binance.server_shutdown(1_770_123_456_789)
    assert shutdown == SERVER_SHUTDOWN_COMBINED
    assert json.loads(binance.encode(shutdown)) == SERVER_SHUTDOWN_COMBINED


def test_decimal_strings_have_eight_decimals():
    assert binance.decimal_string(Decimal("97123.45")) == "97123.45000000"
    assert binance.decimal_string(Decimal("1477833883.756466501")) == "1477833883.75646650"


@pytest.mark.parametrize(
    ("target", "streams"),
    [
        (
            "/stream?streams=btcusdt@miniTicker/ethusdt@miniTicker",
            ("btcusdt@miniTicker", "ethusdt@miniTicker"),
        ),
        ("/stream/?streams=a@b//a@b/", ("a@b",)),
        ("/stream", ()),
        ("/ws/btcusdt@miniTicker", None),
        ("/api/v3/stream", None),
    ],
)
def test_only_combined_streams_are_served(target, streams):
    assert binance.requested_streams(target) == streams


def get(market: Market, target: str) -> tuple[int, object]:
    response = BinanceApi(market)(Request("GET", target))
    assert response.content_type == "application/json;charset=UTF-8" or response.status == 404
    return response.status, json.loads(response.body) if response.status != 404 else None


def test_ticker_price_for_some_symbols_or_every_one(market):
    symbols = quote('["ETHUSDT","BTCUSDT"]')
    status, body = get(market, f"/api/v3/ticker/price?symbols={symbols}")
    assert status == 200
    assert body == [
        {"symbol": "ETHUSDT", "price": "3400.99000000"},
        {"symbol": "BTCUSDT", "price": "97036.05000000"},
    ]
    assert all(shape(item) == shape(TICKER_PRICE) for item in body)
    status, body = get(market, "/api/v3/ticker/price")
    assert [item["symbol"] for item in body] == ["BTCUSDT", "ETHUSDT", "USDCUSDT"]


def test_ticker_price_errors_are_binances(market):
    assert get(market, "/api/v3/ticker/price?symbols=" + quote('["DOGEUSDT"]')) == (400, ERROR)
    status, body = get(market, "/api/v3/ticker/price?symbols=" + quote('["BTCUSDT", "ETHUSDT"]'))
    assert status == 400 and body["code"] == -1100  # a space: the feeder must send compact JSON
    assert get(market, "/api/v3/time")[0] == 404


def test_the_fault_answers_are_worded_as_binances(market):
    api = BinanceApi(market)
    limited = api.too_many_requests(7)
    assert limited.status == 429 and ("Retry-After", "7") in limited.headers
    assert json.loads(limited.body)["code"] == -1003
    failed = api.server_error(502)
    assert failed.status == 502 and json.loads(failed.body)["code"] == -1001
