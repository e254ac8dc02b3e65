"""The parsers, fed the exact sample payloads of the exchanges' documentation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from feeder.parsers import (
    MalformedMessage,
    Quote,
    ServerShutdown,
    parse_binance_stream,
    parse_binance_ticker_price,
    parse_coingecko_simple_price,
)

# binance-spot-api-docs, web-socket-streams.md, "Individual Symbol Mini Ticker Stream".
DOCS_MINI_TICKER = """
  {
    "e": "24hrMiniTicker",
    "E": 1672515782136,
    "s": "BNBBTC",
    "c": "0.0025",
    "o": "0.0010",
    "h": "0.0025",
    "l": "0.0010",
    "v": "10000",
    "q": "18"
  }
"""
# web-socket-streams.md, "General WSS information": combined stream wrapping.
DOCS_COMBINED = '{"stream":"bnbbtc@miniTicker","data":%s}' % DOCS_MINI_TICKER
# Binance docs, "Connection events": Server Shutdown.
DOCS_SERVER_SHUTDOWN = """
{
  "event": {
    "e": "serverShutdown",
    "E": 1770123456789
  }
}
"""
# web-socket-streams.md, "Subscribe to a stream": the response.
DOCS_SUBSCRIBE_REPLY = '{"result": null, "id": 1}'
# rest-api.md, "Symbol price ticker", response with `symbols`.
DOCS_TICKER_PRICE = """
[
  {
    "symbol": "LTCBTC",
    "price": "4.00000200"
  },
  {
    "symbol": "ETHBTC",
    "price": "0.07946600"
  }
]
"""
# CoinGecko API reference, "Coin Price by IDs" (/simple/price) response example.
DOCS_SIMPLE_PRICE = """
{
  "bitcoin": {
    "usd": 67187.3358936566,
    "usd_market_cap": 1317802988326.25,
    "usd_24h_vol": 31260929299.5248,
    "usd_24h_change": 3.63727894677354,
    "last_updated_at": 1711356300
  }
}
"""


def test_raw_mini_ticker_from_the_docs():
    assert parse_binance_stream(DOCS_MINI_TICKER) == Quote(
        "BNBBTC", Decimal("0.0025"), 1672515782136
    )


def test_combined_mini_ticker_from_the_docs():
    quote = parse_binance_stream(DOCS_COMBINED.encode())
    assert quote == Quote("BNBBTC", Decimal("0.0025"), 1672515782136)
    assert quote.price.as_tuple() == Decimal("0.0025").as_tuple()


def test_server_shutdown_from_the_docs():
    assert parse_binance_stream(DOCS_SERVER_SHUTDOWN) == ServerShutdown(1770123456789)


def test_server_shutdown_bare_or_wrapped_in_a_stream():
    assert parse_binance_stream('{"e":"serverShutdown","E":5}') == ServerShutdown(5)
    wrapped = '{"stream":"btcusdt@miniTicker","data":{"e":"serverShutdown","E":6}}'
    assert parse_binance_stream(wrapped) == ServerShutdown(6)


def test_a_reply_to_a_request_never_sent_is_malformed():
    # The feeder names its streams in the URL and sends no requests: a reply is not for it.
    with pytest.raises(MalformedMessage):
        parse_binance_stream(DOCS_SUBSCRIBE_REPLY)


@pytest.mark.parametrize(
    "frame",
    [
        "",
        "{",
        "[]",
        "null",
        '"text"',
        '{"e": "24hrMiniTicker", "E": "soon", "s": "BTCUSDT", "c": "1"}',
        '{"e": "24hrMiniTicker", "E": 1, "s": "BTCUSDT", "c": "abc"}',
        '{"e": "24hrMiniTicker", "E": 1, "s": "BTCUSDT", "c": "-1"}',
        '{"e": "24hrMiniTicker", "E": 1, "s": "BTCUSDT", "c": "NaN"}',
        '{"e": "24hrMiniTicker", "E": 1, "s": "BTCUSDT"}',
        '{"e": "24hrMiniTicker", "s": "BTCUSDT", "c": "1"}',
        '{"e": "24hrMiniTicker", "E": 1, "c": "1"}',
        '{"e": "trade", "E": 1, "s": "BTCUSDT", "p": "1"}',
        '{"stream": "btcusdt@miniTicker", "data": "oops"}',
        '{"hello": "world"}',
    ],
)
def test_malformed_or_unknown_frames_raise(frame):
    with pytest.raises(MalformedMessage):
        parse_binance_stream(frame)


def test_ticker_price_from_the_docs_is_stamped_with_the_receive_time():
    assert parse_binance_ticker_price(DOCS_TICKER_PRICE.encode(), 1_700_000_000_000) == [
        Quote("LTCBTC", Decimal("4.00000200"), 1_700_000_000_000),
        Quote("ETHBTC", Decimal("0.07946600"), 1_700_000_000_000),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b'{"code": -1121, "msg": "Invalid symbol."}',
        b'[{"symbol": "BTCUSDT"}]',
        b'[{"symbol": "BTCUSDT", "price": "0"}]',
        b'[{"symbol": "BTCUSDT", "price": true}]',
    ],
)
def test_bad_ticker_price_answers_raise(body):
    with pytest.raises(MalformedMessage):
        parse_binance_ticker_price(body, 0)


def test_simple_price_from_the_docs_uses_last_updated_at():
    quotes = parse_coingecko_simple_price(DOCS_SIMPLE_PRICE.encode())
    by_instrument = {quote.instrument: quote for quote in quotes}
    assert by_instrument["bitcoin.usd"] == Quote(
        "bitcoin.usd", Decimal("67187.3358936566"), 1711356300000
    )
    # The extra include_* fields are read as instruments too; the publisher drops unknown ones.
    assert "bitcoin.usd_market_cap" in by_instrument


def test_simple_price_for_our_request():
    body = (
        b'{"bitcoin":{"usd":97000.12,"rub":8972511.1,"last_updated_at":1732441200},'
        b'"ethereum":{"usd":3400,"rub":314500.5,"last_updated_at":1732441190},'
        b'"tether":{"usd":0.999912,"rub":null,"last_updated_at":1732441180}}'
    )
    quotes = parse_coingecko_simple_price(body)
    assert [(q.instrument, q.price, q.exchange_ts) for q in quotes] == [
        ("bitcoin.usd", Decimal("97000.12"), 1732441200000),
        ("bitcoin.rub", Decimal("8972511.1"), 1732441200000),
        ("ethereum.usd", Decimal("3400"), 1732441190000),
        ("ethereum.rub", Decimal("314500.5"), 1732441190000),
        ("tether.usd", Decimal("0.999912"), 1732441180000),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"<html>",
        b"[]",
        b'{"bitcoin": {"usd": 1}}',
        b'{"bitcoin": {"usd": "one", "last_updated_at": 1}}',
        b'{"bitcoin": {"usd": 1, "last_updated_at": 1.5}}',
        b'{"bitcoin": {"usd": -3, "last_updated_at": 1}}',
        b'{"status": {"error_code": 429, "error_message": "rate limited"}}',
    ],
)
def test_bad_simple_price_answers_raise(body):
    with pytest.raises(MalformedMessage):
        parse_coingecko_simple_price(body)
