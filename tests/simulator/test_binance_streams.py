from __future__ import annotations

import json

import pytest

from simulator.binance_streams import (
    StreamRequest,
    Subscriptions,
    UnknownPath,
    mini_ticker_stream,
    parse_path,
    served_symbol,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "/stream?streams=btcusdt@miniTicker/ethusdt@miniTicker/usdcusdt@miniTicker",
            StreamRequest(
                True, ("btcusdt@miniTicker", "ethusdt@miniTicker", "usdcusdt@miniTicker")
            ),
        ),
        ("/stream", StreamRequest(True, ())),
        ("/ws/btcusdt@miniTicker", StreamRequest(False, ("btcusdt@miniTicker",))),
        ("/ws/a@trade/a@trade/b@trade", StreamRequest(False, ("a@trade", "b@trade"))),
        ("/ws", StreamRequest(False, ())),
    ],
)
def test_parse_path(path, expected):
    assert parse_path(path) == expected


@pytest.mark.parametrize("path", ["/", "/api/v3/ping", "/wss/btcusdt@trade", "/streams"])
def test_unknown_paths(path):
    with pytest.raises(UnknownPath):
        parse_path(path)


def test_only_the_projects_mini_tickers_carry_data():
    assert mini_ticker_stream("BTCUSDT") == "btcusdt@miniTicker"
    assert served_symbol("ethusdt@miniTicker") == "ETHUSDT"
    for silent in ("bnbusdt@miniTicker", "btcusdt@trade", "BTCUSDT@miniTicker", "!miniTicker@arr"):
        assert served_symbol(silent) is None


def handle(subscriptions: Subscriptions, request: object) -> dict:
    text = request if isinstance(request, str) else json.dumps(request)
    return subscriptions.handle(text)


def test_subscribe_unsubscribe_and_list_as_documented():
    subscriptions = Subscriptions(StreamRequest(True, ("btcusdt@miniTicker",)))
    assert handle(
        subscriptions,
        {"method": "SUBSCRIBE", "params": ["ethusdt@miniTicker", "btcusdt@miniTicker"], "id": 1},
    ) == {"result": None, "id": 1}
    assert handle(subscriptions, {"method": "LIST_SUBSCRIPTIONS", "id": 3}) == {
        "result": ["btcusdt@miniTicker", "ethusdt@miniTicker"],
        "id": 3,
    }
    assert handle(
        subscriptions, {"method": "UNSUBSCRIBE", "params": ["btcusdt@miniTicker"], "id": 312}
    ) == {"result": None, "id": 312}
    assert subscriptions.streams == ["ethusdt@miniTicker"]


def test_properties():
    subscriptions = Subscriptions(StreamRequest(False, ()))
    assert handle(subscriptions, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2}) == {
        "result": False,
        "id": 2,
    }
    assert handle(
        subscriptions, {"method": "SET_PROPERTY", "params": ["combined", True], "id": 5}
    ) == {"result": None, "id": 5}
    assert subscriptions.combined is True
    assert handle(
        subscriptions, {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 6}
    ) == {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": 6}
    assert handle(subscriptions, {"method": "GET_PROPERTY", "params": ["colour"], "id": 7}) == {
        "code": 0,
        "msg": "Unknown property",
        "id": 7,
    }


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        ("{not json", 3, "Invalid JSON: expected value at line 1 column 2"),
        ({"params": [], "id": 1}, 2, "Invalid request: missing field `method`"),
        ({"method": "PING", "id": 1}, 2, "unknown variant `PING`, expected one of `SUBSCRIBE`"),
        ({"method": "LIST_SUBSCRIPTIONS"}, 2, "request ID must be an unsigned integer"),
        ({"method": "LIST_SUBSCRIPTIONS", "id": 1.5}, 2, "request ID must be an unsigned integer"),
        ({"method": "SUBSCRIBE", "params": ["no spaces@trade"], "id": 9}, 2, "invalid stream"),
        ({"method": "SUBSCRIBE", "params": "btcusdt@trade", "id": 9}, 2, "params must be an array"),
    ],
)
def test_invalid_requests_get_error_replies(request_, code, message):
    reply = handle(Subscriptions(StreamRequest(True, ())), request_)
    assert list(reply) == ["error", "id"]
    assert reply["error"]["code"] == code
    assert message in reply["error"]["msg"]


def test_request_ids_may_be_strings_or_null():
    subscriptions = Subscriptions(StreamRequest(True, ()))
    assert handle(subscriptions, {"method": "LIST_SUBSCRIPTIONS", "id": "abc-123"})["id"] == (
        "abc-123"
    )
    assert handle(subscriptions, {"method": "LIST_SUBSCRIPTIONS", "id": None}) == {
        "result": [],
        "id": None,
    }
