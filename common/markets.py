"""Sources, transports, the instruments each exchange quotes, and Binance's stream names.

Feeders publish instruments exactly as the exchange names them; the gateway turns them into the
eight user-facing directions. Binance symbols are upper case (``BTCUSDT``); CoinGecko values are
``<coin id>.<vs currency>`` (``bitcoin.rub``), the two keys of its ``simple/price`` answer.
"""

from __future__ import annotations

from collections.abc import Iterable

BINANCE = "binance"
COINGECKO = "coingecko"

#: A transport is one way of reaching a source; each runs as its own feeder process.
BINANCE_WS = "binance-ws"
BINANCE_REST = "binance-rest"
COINGECKO_REST = "coingecko"

TRANSPORT_SOURCE: dict[str, str] = {
    BINANCE_WS: BINANCE,
    BINANCE_REST: BINANCE,
    COINGECKO_REST: COINGECKO,
}

#: Every transport, in the order the stacks start their feeders.
TRANSPORTS: tuple[str, ...] = tuple(TRANSPORT_SOURCE)

#: Binance has no USD or RUB books: USD is measured through USDC.
BINANCE_SYMBOLS: tuple[str, ...] = ("BTCUSDT", "ETHUSDT", "USDCUSDT")

#: The Binance stream the websocket feeder reads: a symbol's 24 h rolling mini ticker.
BINANCE_STREAM_TYPE = "miniTicker"


def binance_stream_name(symbol: str) -> str:
    """The stream of ``symbol``'s mini ticker as Binance names it: ``btcusdt@miniTicker``."""
    return f"{symbol.lower()}@{BINANCE_STREAM_TYPE}"


def combined_stream_path(symbols: Iterable[str] = BINANCE_SYMBOLS) -> str:
    """The request target of one combined stream of ``symbols``' mini tickers, to append to a
    stream host's URL: ``/stream?streams=btcusdt@miniTicker/ethusdt@miniTicker``."""
    return "/stream?streams=" + "/".join(binance_stream_name(symbol) for symbol in symbols)


COINGECKO_IDS: tuple[str, ...] = ("bitcoin", "ethereum", "tether")
COINGECKO_VS: tuple[str, ...] = ("usd", "rub")


def coingecko_instrument(coin_id: str, vs_currency: str) -> str:
    """The instrument name of one CoinGecko value, e.g. ``bitcoin.usd``."""
    return f"{coin_id}.{vs_currency}"


COINGECKO_INSTRUMENTS: tuple[str, ...] = tuple(
    coingecko_instrument(coin, vs) for coin in COINGECKO_IDS for vs in COINGECKO_VS
)

SOURCE_INSTRUMENTS: dict[str, tuple[str, ...]] = {
    BINANCE: BINANCE_SYMBOLS,
    COINGECKO: COINGECKO_INSTRUMENTS,
}
