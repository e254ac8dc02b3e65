from __future__ import annotations

from pydantic import Field, PositiveFloat, SecretStr

from common.settings import CommaList, PublisherSettings


class FeederSettings(PublisherSettings):
    """Every exchange URL is a setting, so the simulator and the real exchanges are one setting
    apart."""

    #: Unique per process; defaults to ``<transport>@<hostname>:<pid>``.
    feeder_id: str = ""
    feeder_heartbeat_interval: PositiveFloat = 1.0
    #: Connect timeout, and read timeout of one REST request: a hung exchange costs this much.
    feeder_http_timeout: PositiveFloat = 3.0
    feeder_backoff_base: PositiveFloat = 0.25
    feeder_backoff_cap: PositiveFloat = 10.0

    #: Tried in turn: the next one after every failure.
    binance_ws_urls: CommaList = Field(
        default=("wss://stream.binance.com:9443", "wss://data-stream.binance.vision"), min_length=1
    )
    #: The watchdog reconnects a stream silent for longer than this.
    binance_ws_stall_seconds: PositiveFloat = 3.0
    #: Binance closes a connection at 24 h; a new one is opened (and the old one closed) before.
    binance_ws_rotate_after: PositiveFloat = 23.5 * 3600
    #: Binance allows 300 connection attempts per 5 minutes per IP; stay well inside it.
    binance_ws_max_connects: int = Field(default=60, ge=1)
    binance_ws_connects_window: PositiveFloat = 300.0

    binance_rest_url: str = "https://data-api.binance.vision"
    binance_rest_interval: PositiveFloat = 1.0

    coingecko_url: str = "https://api.coingecko.com"
    #: The keyless API tolerates a few calls a minute; CoinGecko's cache turns over every 60 s.
    coingecko_interval: PositiveFloat = 30.0
    #: A demo key is sent in the ``x-cg-demo-api-key`` header.
    coingecko_api_key: SecretStr | None = None
