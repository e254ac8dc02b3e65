from __future__ import annotations

import json
import re
from decimal import Decimal

from simulator import binance_payloads as payloads
from simulator.market import Market
from tests.simulator.samples import (
    ERROR,
    MINI_TICKER,
    SERVER_SHUTDOWN,
    SERVER_SHUTDOWN_COMBINED,
    TICKER_PRICE,
    shape,
)

EIGHT_DECIMALS = re.compile(r"^\d+\.\d{8}$")


def test_mini_ticker_matches_the_documented_payload():
    market = Market(42)
    market.advance_to(10)
    event = payloads.mini_ticker(market.ticker("BTCUSDT"), 1_700_000_000_123)
    assert shape(event) == shape(MINI_TICKER)
    assert event["E"] == 1_700_000_000_123
    assert event["s"] == "BTCUSDT"
    assert event["c"] == f"{market.price('BTCUSDT')}000000"
    for key in "cohlvq":
        assert EIGHT_DECIMALS.match(event[key]), event[key]


def test_combined_envelope_wraps_the_raw_payload():
    envelope = payloads.combined("btcusdt@miniTicker", {"e": "x"})
    assert list(envelope) == ["stream", "data"]
    encoded = payloads.encode(envelope)
    assert encoded == b'{"stream":"btcusdt@miniTicker","data":{"e":"x"}}'


def test_server_shutdown_matches_the_documented_payloads():
    raw = payloads.server_shutdown(1_770_123_456_789)
    assert raw == SERVER_SHUTDOWN
    assert shape(raw) == shape(SERVER_SHUTDOWN)
    wrapped = payloads.combined(payloads.SERVER_SHUTDOWN_STREAM, raw)
    assert wrapped == SERVER_SHUTDOWN_COMBINED
    assert json.loads(payloads.encode(wrapped)) == SERVER_SHUTDOWN_COMBINED


def test_ticker_price_and_errors_match_the_documentation():
    price = payloads.ticker_price("USDCUSDT", Decimal("1.0001"))
    assert shape(price) == shape(TICKER_PRICE)
    assert price == {"symbol": "USDCUSDT", "price": "1.00010000"}
    assert payloads.error(*payloads.INVALID_SYMBOL) == ERROR


def test_decimal_strings_have_eight_decimals():
    assert payloads.decimal_string(Decimal("97123.45")) == "97123.45000000"
    assert payloads.decimal_string(Decimal("1.0001")) == "1.00010000"
    assert payloads.decimal_string(Decimal("1477833883.756466501")) == "1477833883.75646650"


def test_weight_error_names_the_limit():
    body = payloads.too_much_weight(6000)
    assert body["code"] == -1003
    assert "current limit is 6000 request weight per 1 MINUTE" in body["msg"]
