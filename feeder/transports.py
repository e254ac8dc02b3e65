"""The three transports: what each connects to and how its answers are read."""

from __future__ import annotations

import json

from common.markets import BINANCE_SYMBOLS, COINGECKO_IDS, COINGECKO_VS
from feeder.parsers import parse_binance_ticker_price, parse_coingecko_simple_price
from feeder.polling import PollTarget
from feeder.settings import FeederSettings


def binance_rest_target(settings: FeederSettings) -> PollTarget:
    """``/api/v3/ticker/price`` for all our symbols in one request (weight 4)."""
    return PollTarget(
        url=f"{settings.binance_rest_url.rstrip('/')}/api/v3/ticker/price",
        params={"symbols": json.dumps(list(BINANCE_SYMBOLS), separators=(",", ":"))},
        parse=parse_binance_ticker_price,
    )


def coingecko_target(settings: FeederSettings) -> PollTarget:
    """``/api/v3/simple/price`` for every coin and currency in one request."""
    headers = {"accept": "application/json"}
    if settings.coingecko_api_key is not None:
        headers["x-cg-demo-api-key"] = settings.coingecko_api_key.get_secret_value()
    return PollTarget(
        url=f"{settings.coingecko_url.rstrip('/')}/api/v3/simple/price",
        params={
            "ids": ",".join(COINGECKO_IDS),
            "vs_currencies": ",".join(COINGECKO_VS),
            "include_last_updated_at": "true",
        },
        parse=lambda body, _received_ts: parse_coingecko_simple_price(body),
        headers=headers,
    )
