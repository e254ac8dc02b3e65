"""Binance as the feeders see it, pure: its payloads as the spot API documentation shows them,
the streams a connection asks for, and the REST answers.

Individual symbol mini ticker, ``<symbol>@miniTicker`` (web-socket-streams.md), which a combined
stream (``/stream?streams=<a>/<b>``, the only kind simulated) wraps as
``{"stream":"<name>","data":<payload>}``::

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

Server shutdown (web-socket-streams.md, "serverShutdown"), combined::

    {"stream": "!serverShutdown", "data": {"e": "serverShutdown", "E": 1770123456789}}

Symbol price ticker, ``GET /api/v3/ticker/price`` (rest-api.md), for ``symbols`` (a compact
JSON array, as the feeder sends it) or for every symbol::

    [{"symbol": "LTCBTC", "price": "4.00000200"}, {"symbol": "ETHBTC", "price": "0.07946600"}]

Errors (errors.md), with HTTP 400 for request errors::

    {"code": -1121, "msg": "Invalid symbol."}

Prices and volumes are strings with eight decimals, as the live exchange sends them
(``"97123.45000000"``), whatever the symbol's tick size. The simulator's high and low are the
open and the close, its volume a constant: no feeder reads them, but they are there and valid.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec

from common.markets import BINANCE_SYMBOLS, binance_stream_name
from simulator.faults import Skew, no_skew
from simulator.http import Request, Response
from simulator.market import Market, Ticker

SERVER_SHUTDOWN_STREAM = "!serverShutdown"
#: The streams with data: the project's symbols' mini tickers.
SERVED = {binance_stream_name(symbol): symbol for symbol in BINANCE_SYMBOLS}

CONTENT_TYPE = "application/json;charset=UTF-8"
_SYMBOLS_RANGE = '^\\[("[A-Z0-9-_.]{1,20}"(,"[A-Z0-9-_.]{1,20}"){0,}){0,1}\\]$'
_encoder = msgspec.json.Encoder()


def encode(payload: Any) -> bytes:
    """JSON bytes in key insertion order, compact like the exchange's."""
    return _encoder.encode(payload)


def requested_streams(target: str) -> tuple[str, ...] | None:
    """The streams a handshake's request target asks for, if it is a combined stream's
    (``/stream?streams=<a>/<b>``): names without data are accepted and stay silent, as live."""
    parts = urlsplit(target)
    if parts.path not in ("/stream", "/stream/"):
        return None
    names = parse_qs(parts.query).get("streams", [""])[0].split("/")
    return tuple(dict.fromkeys(name for name in names if name))


def decimal_string(value: Decimal) -> str:
    """A price or quantity as Binance writes it: eight decimals."""
    return f"{value:.8f}"


def mini_ticker(ticker: Ticker, event_ms: int, skew: Skew = no_skew) -> dict[str, Any]:
    """The ``24hrMiniTicker`` event of one symbol, its last price multiplied by ``skew``'s
    factor for it."""
    close = ticker.close * skew(ticker.symbol)
    return {
        "e": "24hrMiniTicker",
        "E": event_ms,
        "s": ticker.symbol,
        "c": decimal_string(close),
        "o": decimal_string(ticker.open),
        "h": decimal_string(max(ticker.open, close)),
        "l": decimal_string(min(ticker.open, close)),
        "v": decimal_string(ticker.volume),
        "q": decimal_string(ticker.volume * close),
    }


def combined(stream: str, data: Any) -> dict[str, Any]:
    """A combined stream's envelope."""
    return {"stream": stream, "data": data}


def server_shutdown(event_ms: int) -> dict[str, Any]:
    return combined(SERVER_SHUTDOWN_STREAM, {"e": "serverShutdown", "E": event_ms})


def _error(code: int, msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg}


def ticker_price(market: Market, symbols: str | None, skew: Skew = no_skew) -> tuple[int, Any]:
    """``GET /api/v3/ticker/price``: status and payload for the ``symbols`` parameter."""
    if symbols is not None and not re.match(_SYMBOLS_RANGE, symbols):
        message = (
            f"Illegal characters found in parameter 'symbols'; legal range is '{_SYMBOLS_RANGE}'."
        )
        return 400, _error(-1100, message)
    wanted = list(dict.fromkeys(json.loads(symbols))) if symbols else list(BINANCE_SYMBOLS)
    if any(name not in BINANCE_SYMBOLS for name in wanted):
        return 400, _error(-1121, "Invalid symbol.")
    return 200, [
        {"symbol": name, "price": decimal_string(market.price(name) * skew(name))}
        for name in wanted
    ]


class BinanceApi:
    """Binance's REST API over the simulated market: ``ticker/price``, and the errors the
    faults make it send."""

    def __init__(self, market: Market) -> None:
        self.market = market

    def __call__(self, request: Request, skew: Skew = no_skew) -> Response:
        if request.path != "/api/v3/ticker/price":
            return Response(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        if request.method not in ("GET", "HEAD"):
            return self._json(405, _error(-1000, "Only GET is supported here."))
        status, payload = ticker_price(self.market, request.param("symbols"), skew)
        return self._json(status, payload)

    def too_many_requests(self, retry_after: int) -> Response:
        """A 429, worded as the request-weight limit's."""
        message = (
            "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
            "Please use WebSocket Streams for live updates to avoid polling the API."
        )
        return self._json(429, _error(-1003, message), (("Retry-After", str(retry_after)),))

    def server_error(self, status: int) -> Response:
        message = "Internal error; unable to process your request. Please try again."
        return self._json(status, _error(-1001, message))

    @staticmethod
    def _json(status: int, payload: Any, headers: tuple[tuple[str, str], ...] = ()) -> Response:
        return Response(status, encode(payload), CONTENT_TYPE, headers)
