"""Binance's wire payloads, built exactly as the spot API documentation shows them.

Individual symbol mini ticker, ``<symbol>@miniTicker`` (web-socket-streams.md); the raw stream
sends the object itself, a combined stream wraps it as ``{"stream":"<name>","data":<payload>}``::

    {
      "e": "24hrMiniTicker",  // Event type
      "E": 1672515782136,     // Event time
      "s": "BNBBTC",          // Symbol
      "c": "0.0025",          // Close price
      "o": "0.0010",          // Open price
      "h": "0.0025",          // High price
      "l": "0.0010",          // Low price
      "v": "10000",           // Total traded base asset volume
      "q": "18"               // Total traded quote asset volume
    }

Server shutdown (web-socket-streams.md, "serverShutdown"), raw then combined::

    {"e": "serverShutdown", "E": 1770123456789}
    {"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": 1770123456789}}

Symbol price ticker, ``GET /api/v3/ticker/price`` (rest-api.md): one object for ``symbol``, an
array for ``symbols`` or for none::

    {"symbol": "LTCBTC", "price": "4.00000200"}
    [{"symbol": "LTCBTC", "price": "4.00000200"}, {"symbol": "ETHBTC", "price": "0.07946600"}]

Errors (errors.md), with HTTP 400 for request errors and 429 past the weight limit::

    {"code": -1121, "msg": "Invalid symbol."}

Live subscription replies (web-socket-streams.md)::

    {"result": null, "id": 1}
    {"result": ["btcusdt@aggTrade"], "id": 3}

Prices and volumes are strings with eight decimals, as the live exchange sends them
(``"97123.45000000"``), whatever the symbol's tick size.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from simulator.market import Ticker

SERVER_SHUTDOWN_STREAM = "!serverShutdown"

INVALID_SYMBOL = (-1121, "Invalid symbol.")
BAD_COMBINATION = (-1128, "Combination of optional parameters invalid.")
SYMBOL_RANGE = "^[A-Z0-9-_.]{1,20}$"
SYMBOLS_RANGE = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
INTERNAL_ERROR = (-1001, "Internal error; unable to process your request. Please try again.")

_encoder = msgspec.json.Encoder()


def encode(payload: Any) -> bytes:
    """JSON bytes in key insertion order, compact like the exchange's."""
    return _encoder.encode(payload)


def decimal_string(value: Decimal) -> str:
    """A price or quantity as Binance writes it: eight decimals."""
    return f"{value:.8f}"


def mini_ticker(ticker: Ticker, event_time: int) -> dict[str, Any]:
    """The ``24hrMiniTicker`` event of one symbol."""
    return {
        "e": "24hrMiniTicker",
        "E": event_time,
        "s": ticker.symbol,
        "c": decimal_string(ticker.close),
        "o": decimal_string(ticker.open),
        "h": decimal_string(ticker.high),
        "l": decimal_string(ticker.low),
        "v": decimal_string(ticker.volume),
        "q": decimal_string(ticker.quote_volume),
    }


def combined(stream: str, data: Any) -> dict[str, Any]:
    """A combined stream's envelope."""
    return {"stream": stream, "data": data}


def server_shutdown(event_time: int) -> dict[str, Any]:
    return {"e": "serverShutdown", "E": event_time}


def ticker_price(symbol: str, price: Decimal) -> dict[str, str]:
    return {"symbol": symbol, "price": decimal_string(price)}


def server_time(now_ms: int) -> dict[str, int]:
    return {"serverTime": now_ms}


def error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg}


def illegal_chars(parameter: str, legal_range: str) -> dict[str, Any]:
    return error(
        -1100,
        f"Illegal characters found in parameter '{parameter}'; legal range is '{legal_range}'.",
    )


def too_much_weight(limit: int) -> dict[str, Any]:
    return error(
        -1003,
        f"Too much request weight used; current limit is {limit} request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
    )


def ws_result(result: Any, request_id: Any) -> dict[str, Any]:
    """The reply to a live subscription request."""
    return {"result": result, "id": request_id}


def ws_error(code: int, msg: str, request_id: Any = None) -> dict[str, Any]:
    """A refused live subscription request, as the stream servers send it."""
    return {"error": {"code": code, "msg": msg}, "id": request_id}
