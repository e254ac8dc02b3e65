from __future__ import annotations

from common.markets import (
    BINANCE_SYMBOLS,
    TRANSPORT_SOURCE,
    TRANSPORTS,
    binance_stream_name,
    combined_stream_path,
)


def test_stream_names_follow_binance():
    assert binance_stream_name("BTCUSDT") == "btcusdt@miniTicker"
    assert combined_stream_path(["BTCUSDT", "ETHUSDT"]) == (
        "/stream?streams=btcusdt@miniTicker/ethusdt@miniTicker"
    )
    assert combined_stream_path() == combined_stream_path(BINANCE_SYMBOLS)


def test_every_transport_has_a_source():
    assert TRANSPORTS == ("binance-ws", "binance-rest", "coingecko")
    assert set(TRANSPORTS) == set(TRANSPORT_SOURCE)
