"""Which streams a Binance stream connection carries, and its live subscription requests.

Pure: the websocket module feeds it the request path and each text message and sends what it
returns. Paths follow web-socket-streams.md: ``/ws/<stream>`` for a raw stream (bare payloads),
``/stream?streams=<a>/<b>`` for a combined one (``{"stream":..,"data":..}``), ``/ws`` or
``/stream`` alone to subscribe later.

Like the live servers, a well-formed stream name the simulator has no data for (another symbol,
another stream type, an upper-case symbol) is accepted and stays silent; only
``<symbol>@miniTicker`` of the project's three symbols carries data. Requests that are not valid
get the documented error objects, e.g.::

    {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 7}
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from common.markets import BINANCE_SYMBOLS
from simulator.binance_payloads import ws_error, ws_result

MAX_STREAMS = 1024
METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_STREAM = re.compile(r"^(?:[A-Za-z0-9]+@[A-Za-z0-9_@.:+-]+|![A-Za-z0-9_@.]+)$")
_ID = re.compile(r"^[A-Za-z0-9-]{1,36}$")
_SERVED = {f"{symbol.lower()}@miniTicker": symbol for symbol in BINANCE_SYMBOLS}


def mini_ticker_stream(symbol: str) -> str:
    """The stream name of a symbol's mini ticker: ``btcusdt@miniTicker``."""
    return f"{symbol.lower()}@miniTicker"


def served_symbol(stream: str) -> str | None:
    """The Binance symbol whose mini ticker ``stream`` is, if the simulator serves it."""
    return _SERVED.get(stream)


def valid_stream(stream: object) -> bool:
    return isinstance(stream, str) and bool(_STREAM.match(stream))


@dataclass(frozen=True)
class StreamRequest:
    """What a connection asked for in its URL."""

    combined: bool
    streams: tuple[str, ...]


class UnknownPath(ValueError):
    """A URL that is neither ``/ws...`` nor ``/stream...``."""


def parse_path(path: str) -> StreamRequest:
    """The streams and envelope a handshake's request target asks for."""
    parts = urlsplit(path)
    if parts.path in ("/stream", "/stream/"):
        names = parse_qs(parts.query).get("streams", [""])[0]
        return StreamRequest(combined=True, streams=_dedupe(names.split("/")))
    if parts.path == "/ws" or parts.path.startswith("/ws/"):
        return StreamRequest(combined=False, streams=_dedupe(parts.path[4:].split("/")))
    raise UnknownPath(parts.path)


def _dedupe(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for name in names if name))


class Subscriptions:
    """One connection's subscriptions and ``combined`` property, and its request handling."""

    def __init__(self, request: StreamRequest) -> None:
        self.combined = request.combined
        self.streams: list[str] = list(request.streams[:MAX_STREAMS])

    def handle(self, text: str) -> dict[str, Any]:
        """The reply to one text message from the client."""
        request = _parse_request(text)
        if "error" in request:
            return request
        handler = getattr(self, f"_{request['method'].lower()}")
        return handler(request["params"], request["id"])

    def _subscribe(self, params: list[Any], request_id: Any) -> dict[str, Any]:
        if not all(valid_stream(name) for name in params):
            return ws_error(2, "Invalid request: invalid stream", request_id)
        fresh = [name for name in dict.fromkeys(params) if name not in self.streams]
        if len(self.streams) + len(fresh) > MAX_STREAMS:
            return ws_error(2, f"Invalid request: too many streams (max {MAX_STREAMS})", request_id)
        self.streams.extend(fresh)
        return ws_result(None, request_id)

    def _unsubscribe(self, params: list[Any], request_id: Any) -> dict[str, Any]:
        if not all(valid_stream(name) for name in params):
            return ws_error(2, "Invalid request: invalid stream", request_id)
        self.streams = [name for name in self.streams if name not in params]
        return ws_result(None, request_id)

    def _list_subscriptions(self, params: list[Any], request_id: Any) -> dict[str, Any]:
        if params:
            return ws_error(2, "Invalid request: too many parameters", request_id)
        return ws_result(list(self.streams), request_id)

    def _set_property(self, params: list[Any], request_id: Any) -> dict[str, Any]:
        if len(params) != 2:
            return ws_error(2, "Invalid request: too many parameters", request_id)
        name, value = params
        if not isinstance(name, str):
            return ws_error(2, "Invalid request: property name must be a string", request_id)
        if name != "combined":
            return {"code": 0, "msg": "Unknown property", "id": request_id}
        if not isinstance(value, bool):
            return ws_error(1, "Invalid value type: expected Boolean", request_id)
        self.combined = value
        return ws_result(None, request_id)

    def _get_property(self, params: list[Any], request_id: Any) -> dict[str, Any]:
        if len(params) != 1:
            return ws_error(2, "Invalid request: too many parameters", request_id)
        if not isinstance(params[0], str):
            return ws_error(2, "Invalid request: property name must be a string", request_id)
        if params[0] != "combined":
            return {"code": 0, "msg": "Unknown property", "id": request_id}
        return ws_result(self.combined, request_id)


def _parse_request(text: str) -> dict[str, Any]:
    """``{"method", "params", "id"}`` of a valid request, else the error reply."""
    try:
        request = json.loads(text)
    except ValueError as error:
        line = getattr(error, "lineno", 1)
        column = getattr(error, "colno", 1)
        return ws_error(3, f"Invalid JSON: expected value at line {line} column {column}")
    if not isinstance(request, dict):
        return ws_error(2, "Invalid request: expected an object")
    problem = _method_problem(request.get("method"))
    if problem is not None:
        return problem
    request_id = request.get("id", ...)
    if not _valid_id(request_id):
        return ws_error(2, "Invalid request: request ID must be an unsigned integer")
    params = request.get("params", [])
    if not isinstance(params, list):
        return ws_error(2, "Invalid request: params must be an array", request_id)
    return {"method": request["method"], "params": params, "id": request_id}


def _method_problem(method: Any) -> dict[str, Any] | None:
    if method is None:
        return ws_error(2, "Invalid request: missing field `method`")
    if method not in METHODS:
        expected = ", ".join(f"`{name}`" for name in METHODS)
        return ws_error(
            2, f"Invalid request: unknown variant `{method}`, expected one of {expected}"
        )
    return None


def _valid_id(request_id: Any) -> bool:
    """A 64-bit signed integer, an alphanumeric string of up to 36 characters, or null."""
    if request_id is None:
        return True
    if isinstance(request_id, bool):
        return False
    if isinstance(request_id, int):
        return -(2**63) <= request_id < 2**63
    return isinstance(request_id, str) and bool(_ID.match(request_id))
