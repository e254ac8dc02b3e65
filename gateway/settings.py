from __future__ import annotations

from pydantic import Field, PositiveFloat

from common.settings import SubscriberSettings
from gateway.pricing import Budgets


class GatewaySettings(SubscriberSettings):
    """One gateway replica."""

    gateway_host: str = "127.0.0.1"
    gateway_port: int = Field(default=8001, ge=1, le=65535)

    #: A Binance leg stays fresh this long without news of its stream. Under 5 s, so a served
    #: fresh rate is never older than the 5 s refresh the service promises.
    freshness_live_seconds: PositiveFloat = 4.0
    #: A CoinGecko value used directly (CoinGecko refreshes every 60 s).
    freshness_coingecko_seconds: PositiveFloat = 150.0
    #: The USD-RUB ratio behind Binance's RUB directions.
    freshness_fiat_seconds: PositiveFloat = 900.0

    #: ``Cache-Control: max-age`` of answers, seconds.
    http_cache_max_age: int = Field(default=1, ge=0, le=60)

    def budgets(self) -> Budgets:
        return Budgets(
            live=self.freshness_live_seconds,
            slow=self.freshness_coingecko_seconds,
            fiat=self.freshness_fiat_seconds,
        )
