"""Retention: ticks and served values older than a number of days, and minute candles older than
another, are deleted in small batches, each its own short transaction, so a table is never
locked for long and replication never sees a huge delete. Hour candles are kept: 8 directions
cost about 1 MB a year of them."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from common.wire import now_ms
from gateway import history_table, ticks_table
from gateway.database import DATABASE_ERRORS

log = logging.getLogger(__name__)

DAY_MS = 86_400_000


async def delete_expired(pool: asyncpg.Pool, days: float, batch: int, pause: float = 0.05) -> int:
    """Delete every tick older than ``days``; returns how many went."""
    cutoff = now_ms() - int(days * DAY_MS)
    deleted = 0
    while True:
        async with pool.acquire() as connection:
            count = await ticks_table.delete_oldest(connection, cutoff, batch)
        deleted += count
        if count < batch:
            return deleted
        await asyncio.sleep(pause)  # let the writer and readers in between batches


async def delete_expired_history(
    pool: asyncpg.Pool, table: str, days: float, batch: int, pause: float = 0.05
) -> int:
    """Delete every row of ``table`` (``history_table.TRIMMED``) older than ``days``."""
    cutoff = now_ms() - int(days * DAY_MS)
    deleted = 0
    while True:
        async with pool.acquire() as connection:
            count = await history_table.delete_oldest(connection, table, cutoff, batch)
        deleted += count
        if count < batch:
            return deleted
        await asyncio.sleep(pause)


async def run_retention(
    pool: asyncpg.Pool,
    days: float,
    batch: int,
    interval: float,
    minute_candles_days: float | None = None,
) -> None:
    """Apply retention every ``interval`` seconds until cancelled: ticks and served values
    after ``days``, minute candles after ``minute_candles_days`` (None: kept)."""
    while True:
        try:
            deleted = await delete_expired(pool, days, batch)
            served = await delete_expired_history(pool, "served", days, batch)
            minutes = 0
            if minute_candles_days is not None:
                minutes = await delete_expired_history(
                    pool, "candles_1m", minute_candles_days, batch
                )
        except DATABASE_ERRORS as error:
            log.warning("retention skipped this round: %s", error)
        else:
            if deleted or served or minutes:
                log.info(
                    "retention: deleted %d ticks and %d served values older than %g days, "
                    "%d minute candles",
                    deleted,
                    served,
                    days,
                    minutes,
                )
        await asyncio.sleep(interval)
