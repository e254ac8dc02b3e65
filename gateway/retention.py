"""Retention: ticks older than a number of days are deleted in small batches, each its own short
transaction, so the table is never locked for long and replication never sees a huge delete."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from common.wire import now_ms
from gateway import ticks_table
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


async def run_retention(pool: asyncpg.Pool, days: float, batch: int, interval: float) -> None:
    """Apply retention every ``interval`` seconds until cancelled."""
    while True:
        try:
            deleted = await delete_expired(pool, days, batch)
        except DATABASE_ERRORS as error:
            log.warning("retention skipped this round: %s", error)
        else:
            if deleted:
                log.info("retention: deleted %d ticks older than %g days", deleted, days)
        await asyncio.sleep(interval)
