from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, NonNegativeFloat, PositiveFloat, PositiveInt, SecretStr

from common.settings import SubscriberSettings
from gateway.guard import Guard, Policy
from gateway.pricing import Budgets


class GatewaySettings(SubscriberSettings):
    """One gateway replica."""

    gateway_host: str = "127.0.0.1"
    #: 0 binds any free port (the test harness reads back which).
    gateway_port: int = Field(default=8001, ge=0, le=65535)

    #: A Binance leg stays fresh this long without news of its stream. Under 5 s, so a served
    #: fresh rate is never older than the 5 s refresh the service promises.
    freshness_live_seconds: PositiveFloat = 4.0
    #: A CoinGecko value used directly (CoinGecko refreshes every 60 s).
    freshness_coingecko_seconds: PositiveFloat = 150.0
    #: The USD-RUB ratio behind Binance's RUB directions.
    freshness_fiat_seconds: PositiveFloat = 900.0

    #: A direction is disputed when its two sources' fresh values differ by more than this
    #: share of the smaller: 0.02 is 2 %, far beyond how much CoinGecko's 60 s-cached
    #: aggregate honestly trails Binance (README, "The guard").
    guard_max_deviation: Decimal = Field(default=Decimal("0.02"), gt=0, lt=1)
    #: flag: serve by source priority and mark the course; prefer-aggregate: a disputed
    #: direction served by Binance is served from CoinGecko until they agree again.
    guard_policy: Literal["flag", "prefer-aggregate"] = "flag"

    #: ``Cache-Control: max-age`` of answers, seconds.
    http_cache_max_age: int = Field(default=1, ge=0, le=60)
    #: Told to stop (SIGTERM), answer /readyz 503 for this long while still serving, then stop:
    #: HAProxy takes the replica out of rotation before its port closes (Compose: 3).
    gateway_drain_seconds: NonNegativeFloat = 0.0
    #: The courses stream's own server (GET /api/v1/courses/stream, what HAProxy routes the
    #: path to); unset: none, the route on GATEWAY_PORT serves the stream alone. 0: any port.
    gateway_stream_port: int | None = Field(default=None, ge=0, le=65535)
    #: ``retry:`` of the stream: how long a client waits before reconnecting, milliseconds.
    gateway_stream_retry_ms: PositiveInt = 1000
    #: A comment on every stream this often (seconds): proxies never see it idle for 15 s.
    gateway_stream_heartbeat_seconds: PositiveFloat = Field(default=10.0, le=15.0)
    #: A stream client whose unsent bytes pass this is dropped (counted), never waited for.
    gateway_stream_buffer_limit: PositiveInt = 65536
    #: Per-route HTTP metrics (prometheus-fastapi-instrumentator); the domain metrics on
    #: /metrics stay either way. Off only to measure what they cost.
    gateway_http_metrics: bool = True
    #: Serve PUT /_control/delay (to loopback clients only), which makes every request of this
    #: replica wait a given time: a slow replica on purpose, for tests and drills.
    gateway_fault_injection: bool = False

    #: Postgres, e.g. ``postgres://user:password@host:5432/rates?sslmode=disable``. Without it
    #: the gateway neither stores ticks nor warms up from them.
    database_url: SecretStr | None = None
    #: A file holding DATABASE_URL's password (Docker Compose's generated secret), read at
    #: every new connection; it wins over a password in the URL.
    database_password_file: Path | None = None
    #: false makes a read-only replica: it warms up from Postgres but stores nothing.
    gateway_write_ticks: bool = True
    #: A flush stores at most this many ticks in one statement...
    writer_batch_size: PositiveInt = 5000
    #: ...and happens at least this often (seconds) while ticks are waiting.
    writer_flush_interval: PositiveFloat = 0.5
    #: Ticks held through a Postgres outage; past it the oldest are dropped (and counted).
    writer_buffer_limit: PositiveInt = 200_000
    #: How long a starting gateway waits for Postgres to warm its book, seconds.
    warm_start_timeout: PositiveFloat = 5.0
    #: Ticks older than this many days are deleted, in batches, every RETENTION_INTERVAL s.
    retention_days: PositiveFloat = 30.0
    retention_interval: PositiveFloat = 3600.0
    retention_batch: PositiveInt = 5000
    #: What the API served is stored (the ``served`` table, RETENTION_DAYS) and rolled up into
    #: one-minute candles, kept this many days, and one-hour candles, kept for good.
    minute_candles_days: PositiveFloat = 400.0
    #: A candle is closed (never changes again) this many seconds after its interval ends:
    #: time for every replica's writer to store the interval's last values.
    history_settle_seconds: NonNegativeFloat = 30.0
    #: ``Cache-Control: max-age`` of a history answer whose candles are all closed, seconds.
    history_closed_max_age: int = Field(default=86400, ge=0)

    def guard(self) -> Guard:
        return Guard(self.guard_max_deviation, Policy(self.guard_policy))

    def budgets(self) -> Budgets:
        return Budgets(
            live=self.freshness_live_seconds,
            slow=self.freshness_coingecko_seconds,
            fiat=self.freshness_fiat_seconds,
        )
