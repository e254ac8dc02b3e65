"""Building ticks and heartbeats for the gateway's unit tests."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from common.markets import TRANSPORT_SOURCE
from common.wire import Status, Tick
from gateway import ticks_table

T0 = 1_764_000_000_000  # ms


def tick(
    instrument: str,
    price: str,
    exchange_ts: int = T0,
    transport: str = "binance-ws",
    feeder_id: str | None = None,
) -> Tick:
    return Tick(
        source=TRANSPORT_SOURCE[transport],
        instrument=instrument,
        price=Decimal(price),
        exchange_ts=exchange_ts,
        received_ts=exchange_ts,
        feeder_id=feeder_id or f"{transport}-1",
        seq=1,
        transport=transport,
    )


def status(
    transport: str, connected: bool, age_ms: int | None, feeder_id: str | None = None
) -> Status:
    return Status(
        source=TRANSPORT_SOURCE[transport],
        transport=transport,
        feeder_id=feeder_id or f"{transport}-1",
        sent_ts=T0,
        connected=connected,
        last_message_age_ms=age_ms,
        messages=1,
        ticks=1,
        malformed=0,
        reconnects=0,
    )


BINANCE_PRICES = {"BTCUSDT": "97000.50", "ETHUSDT": "3400.10", "USDCUSDT": "1.0001"}
COINGECKO_PRICES = {
    "bitcoin.usd": "96990",
    "bitcoin.rub": "8972000",
    "ethereum.usd": "3399",
    "ethereum.rub": "314000",
    "tether.usd": "0.9999",
    "tether.rub": "92.5",
}


def binance_ticks(exchange_ts: int = T0, transport: str = "binance-ws") -> list[Tick]:
    return [tick(i, p, exchange_ts, transport) for i, p in BINANCE_PRICES.items()]


def coingecko_ticks(exchange_ts: int = T0) -> list[Tick]:
    return [tick(i, p, exchange_ts, "coingecko") for i, p in COINGECKO_PRICES.items()]


async def insert_ticks(connection: asyncpg.Connection, ticks: list[Tick]) -> int:
    """Store ``ticks`` straight into the table, as a writer would; returns how many were new."""
    return await ticks_table.insert_rows(connection, [ticks_table.row_of(t) for t in ticks])
