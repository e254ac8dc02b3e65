"""Warm start, the Clone pattern: the subscriber is already applying live ticks when the latest
stored tick of every instrument is loaded; a stored tick older than what the book holds is
ignored. Stored values come without evidence of life, so they are served marked stale until
their streams show up."""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from common.backoff import Backoff
from common.markets import SOURCE_INSTRUMENTS
from gateway import ticks_table
from gateway.database import DATABASE_ERRORS
from gateway.rates import Rates

log = logging.getLogger(__name__)

KEYS = [(source, i) for source, instruments in SOURCE_INSTRUMENTS.items() for i in instruments]


async def warm_start(pool: asyncpg.Pool, rates: Rates, timeout: float) -> int | None:
    """Load the latest stored ticks into ``rates``; how many were taken, or None if Postgres
    did not answer within ``timeout`` seconds (live ticks alone will do)."""
    started = time.monotonic()
    backoff = Backoff(0.1, 1.0)
    while True:
        try:
            async with pool.acquire() as connection:
                ticks = await ticks_table.latest_ticks(connection, KEYS)
            break
        except DATABASE_ERRORS as error:
            if time.monotonic() - started + backoff.ceiling() > timeout:
                log.error("warm start gave up after %.1f s: %s", time.monotonic() - started, error)
                return None
            await asyncio.sleep(backoff.next_delay())
    loaded = rates.book.load(ticks)
    rates.reprice(asyncio.get_running_loop().time())
    log.info(
        "warm start: %d stored ticks, %d newer than the live ones, in %.0f ms",
        len(ticks),
        loaded,
        (time.monotonic() - started) * 1000,
    )
    return loaded
