"""Payloads copied from the exchanges' documentation, to hold the simulator's against."""

from __future__ import annotations

import json

# Binance web-socket-streams.md, "Individual Symbol Mini Ticker Stream".
MINI_TICKER = json.loads("""{
      "e": "24hrMiniTicker", "E": 1672515782136, "s": "BNBBTC", "c": "0.0025",
      "o": "0.0010", "h": "0.0025", "l": "0.0010", "v": "10000", "q": "18"
    }""")

# Binance web-socket-streams.md, "Server Shutdown", raw and combined.
SERVER_SHUTDOWN = json.loads('{"e": "serverShutdown", "E": 1770123456789}')
SERVER_SHUTDOWN_COMBINED = json.loads(
    '{"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": 1770123456789}}'
)

# Binance rest-api.md, "Symbol price ticker".
TICKER_PRICE = json.loads('{"symbol": "LTCBTC", "price": "4.00000200"}')

# Binance errors.md.
ERROR = json.loads('{"code": -1121, "msg": "Invalid symbol."}')

# CoinGecko /simple/price with include_last_updated_at=true.
SIMPLE_PRICE = json.loads('{"bitcoin": {"usd": 67187.3358936566, "last_updated_at": 1711356300}}')


def shape(value: object) -> object:
    """Key order and value types, all the way down: what must match the documentation."""
    if isinstance(value, dict):
        return [(key, shape(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [shape(item) for item in value[:1]]
    return type(value).__name__
