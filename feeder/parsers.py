"""Pure parsers: exchange payloads in, ``Quote``s out. No I/O, no clocks.

Each parser keeps a sample payload from the exchange's documentation in its docstring, and the
tests replay those samples through it. Anything that is not exactly what the exchange documents
raises :class:`MalformedMessage`, which the feeder counts and drops.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from common.markets import coingecko_instrument


class MalformedMessage(ValueError):
    """A payload that is not valid JSON, has wrong types, or names what we did not ask for."""


class Quote(msgspec.Struct, frozen=True):
    """One price as an exchange stated it, before it becomes a ``Tick``."""

    instrument: str
    price: Decimal
    exchange_ts: int  #: ms since the epoch


class ServerShutdown(msgspec.Struct, frozen=True):
    """Binance is about to close the connection: open a new one now."""

    event_ts: int | None


class _Event(msgspec.Struct):
    e: str | None = None
    E: int | None = None
    s: str | None = None
    c: Decimal | None = None


class _Frame(_Event):
    stream: str | None = None
    data: _Event | None = None
    event: _Event | None = None


_frame_decoder = msgspec.json.Decoder(_Frame)


def _valid_price(price: Decimal | None, where: str) -> Decimal:
    if price is None or not price.is_finite() or price <= 0:
        raise MalformedMessage(f"{where}: price {price!r} is not a positive number")
    return price


def _mini_ticker(event: _Event) -> Quote:
    if not event.s or event.E is None:
        raise MalformedMessage("miniTicker without symbol or event time")
    return Quote(event.s, _valid_price(event.c, event.s), event.E)


def parse_binance_stream(frame: str | bytes) -> Quote | ServerShutdown:
    """One frame of a Binance market stream (combined or raw).

    Combined stream, ``/stream?streams=btcusdt@miniTicker``::

        {"stream": "btcusdt@miniTicker",
         "data": {"e": "24hrMiniTicker", "E": 1672515782136, "s": "BNBBTC", "c": "0.0025",
                  "o": "0.0010", "h": "0.0025", "l": "0.0010", "v": "10000", "q": "18"}}

    Connection event::

        {"event": {"e": "serverShutdown", "E": 1770123456789}}
    """
    try:
        parsed = _frame_decoder.decode(frame)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise MalformedMessage(f"undecodable frame: {error}") from None
    event = parsed.data or parsed.event or parsed
    if event.e == "24hrMiniTicker":
        return _mini_ticker(event)
    if event.e == "serverShutdown":
        return ServerShutdown(event.E)
    raise MalformedMessage(f"unknown event {event.e!r}")


class _SymbolPrice(msgspec.Struct):
    symbol: str
    price: Decimal


_ticker_decoder = msgspec.json.Decoder(list[_SymbolPrice])


def parse_binance_ticker_price(body: bytes, asked_ts: int) -> list[Quote]:
    """``GET /api/v3/ticker/price?symbols=[...]``.

    ``ticker/price`` carries no event time. The prices are stamped with when they were asked
    for: the server read them after that, so the stamp never claims them newer than they are
    (and a websocket event that happened meanwhile still counts as newer)::

        [{"symbol": "BTCUSDT", "price": "6000.01000000"},
         {"symbol": "BNBUSDT", "price": "0.01000000"}]
    """
    try:
        rows = _ticker_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise MalformedMessage(f"ticker/price: {error}") from None
    return [Quote(row.symbol, _valid_price(row.price, row.symbol), asked_ts) for row in rows]


_simple_price_decoder = msgspec.json.Decoder(dict[str, dict[str, Decimal | None]])


def parse_coingecko_simple_price(body: bytes) -> list[Quote]:
    """``GET /api/v3/simple/price?ids=...&vs_currencies=usd,rub&include_last_updated_at=true``.

    ``last_updated_at`` (unix seconds) is CoinGecko's own time for the values::

        {"bitcoin": {"usd": 67187.3358936566, "rub": 6213398.31, "last_updated_at": 1711356300}}

    Coins or currencies CoinGecko does not know are simply absent; a ``null`` value is skipped.
    """
    try:
        coins = _simple_price_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise MalformedMessage(f"simple/price: {error}") from None
    quotes = []
    for coin, values in coins.items():
        updated = values.pop("last_updated_at", None)
        if updated is None or updated != updated.to_integral_value() or updated <= 0:
            raise MalformedMessage(f"simple/price: {coin} has no valid last_updated_at")
        exchange_ts = int(updated) * 1000
        for vs_currency, price in values.items():
            if price is not None:
                instrument = coingecko_instrument(coin, vs_currency)
                quotes.append(Quote(instrument, _valid_price(price, instrument), exchange_ts))
    return quotes
