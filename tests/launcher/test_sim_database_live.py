"""A demo migrates and fills its own database; the real one never sees a simulated price."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from harness.postgres import execute, scratch_database
from launcher.migrate import migrate
from launcher.stack import DEMO, RUN, database_for

pytestmark = pytest.mark.live


async def _tables(url: str) -> tuple[int, int]:
    connection = await asyncpg.connect(url)
    try:
        served = await connection.fetchval("SELECT count(*) FROM served")
        ticks = await connection.fetchval("SELECT count(*) FROM ticks")
        return served, ticks
    finally:
        await connection.close()


async def _store_a_simulated_tick(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO ticks (source, instrument, exchange_ts, price, received_ts, feeder_id,"
            " seq) VALUES ('binance', 'BTCUSDT', now(), 1, now(), 'sim', 1)"
        )
    finally:
        await connection.close()


def test_the_demo_database_is_created_migrated_and_apart(pg_admin_url):
    with scratch_database(pg_admin_url) as real:
        simulated = database_for(DEMO, real)
        assert database_for(RUN, real) == real
        try:
            migrate(simulated)  # the launcher's schema gate: dbmate creates it first
            asyncio.run(_store_a_simulated_tick(simulated))
            assert asyncio.run(_tables(simulated)) == (0, 1)
            assert asyncio.run(_tables(real)) == (0, 0)
        finally:
            name = simulated.rsplit("/", 1)[1].split("?")[0]
            asyncio.run(execute(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
