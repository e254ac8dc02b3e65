"""The ticks table, the writer, the warm start and retention against a real, migrated PostgreSQL."""

from __future__ import annotations

import asyncio
import inspect
import logging
from decimal import Decimal

import asyncpg
import msgspec
import pytest

from common.backoff import Backoff
from common.wire import now_ms
from gateway import ticks_table
from gateway.database import open_pool
from gateway.pricing import Budgets
from gateway.query import ALL
from gateway.rates import Rates
from gateway.render import Answers
from gateway.retention import DAY_MS, delete_expired
from gateway.warm import warm_start
from gateway.writer import TickWriter
from harness.procs import until
from launcher.migrate import dbmate
from tests.gateway.ticks import binance_ticks, coingecko_ticks, insert_ticks, tick

pytestmark = pytest.mark.live


async def rows(url: str, query: str = "SELECT count(*) FROM ticks"):
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetchval(query)
    finally:
        await connection.close()


async def drain(writer: TickWriter, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while writer.pending:
            await asyncio.sleep(0.01)


def test_migrations_go_up_down_and_up_again(database_url):
    assert "Applied: 2" in dbmate(database_url, "status")
    dbmate(database_url, "down")
    assert asyncio.run(rows(database_url, "SELECT to_regclass('served') IS NULL"))
    dbmate(database_url, "down")
    assert asyncio.run(rows(database_url, "SELECT to_regclass('ticks') IS NULL"))
    dbmate(database_url, "up")
    assert asyncio.run(rows(database_url)) == 0


async def test_a_tick_round_trips_exactly(database_url):
    original = tick("BTCUSDT", "97123.45000001", exchange_ts=now_ms())
    pool = await open_pool(database_url)
    try:
        async with pool.acquire() as connection:
            assert await insert_ticks(connection, [original]) == 1
            (loaded,) = await ticks_table.latest_ticks(connection, [("binance", "BTCUSDT")])
    finally:
        await pool.close()
    assert loaded == original
    assert loaded.price.as_tuple() == Decimal("97123.45000001").as_tuple()


async def test_the_same_event_is_stored_once_however_it_arrives(database_url):
    event = tick("ETHUSDT", "3400.5", exchange_ts=now_ms())
    copies = [
        event,  # through forwarder 1
        event,  # through forwarder 2
        msgspec.structs.replace(event, replay=True),  # the feeder's replay
        msgspec.structs.replace(event, feeder_id="binance-ws-2", seq=99),  # a second feeder
    ]
    pool = await open_pool(database_url)
    writer = TickWriter(pool, batch_size=100, flush_interval=0.05)
    task = asyncio.create_task(writer.run())
    try:
        for copy in copies:
            writer.submit(copy)
        await drain(writer)
        # A retried batch, or another replica storing the same event: the key holds.
        async with pool.acquire() as connection:
            assert await insert_ticks(connection, copies) == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    assert await rows(database_url) == 1
    assert writer.stats.stored == 1
    assert writer.stats.copies_skipped == 3


async def test_a_full_batch_goes_at_once_and_the_rest_waits(database_url):
    pool = await open_pool(database_url)
    writer = TickWriter(pool, batch_size=10, flush_interval=3600)
    task = asyncio.create_task(writer.run())
    try:
        start = now_ms()
        for n in range(25):
            writer.submit(tick("BTCUSDT", "1", exchange_ts=start + n))
        await until(lambda: writer.stats.batches == 2, 10)
        assert writer.pending == 5  # until the interval (an hour) or five more ticks
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    assert await rows(database_url) == 25  # the five went when the writer stopped


async def test_what_waits_goes_when_the_interval_is_up(database_url):
    pool = await open_pool(database_url)
    writer = TickWriter(pool, batch_size=1000, flush_interval=0.2)
    task = asyncio.create_task(writer.run())
    try:
        for n in range(5):
            writer.submit(tick("BTCUSDT", "1", exchange_ts=now_ms() + n))
        await until(lambda: writer.stats.batches == 1, 10)
        assert writer.stats.last_batch_size == 5 and writer.pending == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    assert await rows(database_url) == 5


async def test_rows_the_database_refuses_are_dropped_and_the_rest_stored(database_url, caplog):
    start = now_ms()
    ticks = [tick("BTCUSDT", "1", exchange_ts=start + n) for n in range(50)]
    ticks[7] = tick("BTCUSDT", "-1", exchange_ts=start + 7)  # breaks CHECK (price > 0)
    ticks[30] = tick("BTCUSDT", "1", exchange_ts=10**16)  # beyond timestamptz: server refuses
    ticks[41] = tick("BTCUSDT", "1", exchange_ts=2**63)  # beyond bigint: asyncpg refuses
    pool = await open_pool(database_url)
    writer = TickWriter(pool, batch_size=50, flush_interval=10)
    task = asyncio.create_task(writer.run())
    try:
        with caplog.at_level(logging.ERROR, logger="gateway.writer"):
            for one in ticks:
                writer.submit(one)
            await drain(writer)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    assert await rows(database_url) == 47
    stats = writer.stats
    assert (stats.stored, stats.refused, stats.already_stored) == (47, 3, 0)
    assert stats.batches == 1 and stats.retries == 0
    refused = [r.getMessage() for r in caplog.records if "database refused" in r.getMessage()]
    assert refused and "CheckViolationError" in refused[0] and f"at {start + 7}" in refused[0]


async def test_a_wrong_schema_keeps_the_ticks_until_an_operator_fixes_it(database_url, caplog):
    admin = await asyncpg.connect(database_url)
    await admin.execute("ALTER TABLE ticks RENAME TO ticks_elsewhere")
    pool = await open_pool(database_url)
    writer = TickWriter(pool, batch_size=10, flush_interval=0.05, backoff=Backoff(0.05, 0.1))
    task = asyncio.create_task(writer.run())
    try:
        start = now_ms()
        with caplog.at_level(logging.ERROR, logger="gateway.writer"):
            for n in range(10):
                writer.submit(tick("ETHUSDT", "2", exchange_ts=start + n))
            async with asyncio.timeout(10):
                while writer.stats.retries < 3:
                    await asyncio.sleep(0.01)
        assert writer.pending == 10 and writer.stats.refused == 0
        assert any(
            r.levelname == "CRITICAL" and "UndefinedTableError" in r.getMessage()
            for r in caplog.records
        )
        await admin.execute("ALTER TABLE ticks_elsewhere RENAME TO ticks")
        await drain(writer)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
        await admin.close()
    assert await rows(database_url) == 10 and writer.stats.stored == 10


async def test_a_full_buffer_drops_the_oldest_counted_and_logged(caplog, refused_port):
    pool = await open_pool(f"postgres://nobody@127.0.0.1:{refused_port}/none")
    writer = TickWriter(pool, batch_size=10, flush_interval=10, buffer_limit=100)
    start = now_ms()
    with caplog.at_level(logging.ERROR, logger="gateway.writer"):
        for n in range(150):
            writer.submit(tick("BTCUSDT", "1", exchange_ts=start + n))
    await pool.close()
    assert writer.pending == 100
    assert writer.stats.dropped == 50
    assert any("buffer full" in r.getMessage() for r in caplog.records)


async def test_submit_never_waits_for_postgres(refused_port):
    pool = await open_pool(f"postgres://nobody@127.0.0.1:{refused_port}/none")
    writer = TickWriter(pool, batch_size=1000, flush_interval=0.01)
    assert not inspect.iscoroutinefunction(writer.submit)  # it cannot wait: it is no coroutine
    task = asyncio.create_task(writer.run())
    try:
        start = now_ms()
        for n in range(20_000):
            writer.submit(tick("BTCUSDT", "1", exchange_ts=start + n))
        await until(lambda: writer.stats.retries >= 1, 10)
        assert writer.pending == 20_000
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()


async def test_warm_start_serves_stored_values_stale_and_ignores_older_ones(database_url):
    stamp = now_ms() - 60_000
    pool = await open_pool(database_url)
    try:
        async with pool.acquire() as connection:
            older = [tick("BTCUSDT", "1", exchange_ts=stamp - 1000)]
            stored = binance_ticks(stamp) + coingecko_ticks(stamp)
            await insert_ticks(connection, older + stored)
        rates = Rates(Budgets())
        live = tick("BTCUSDT", "97999", exchange_ts=stamp + 5)  # arrived before the load
        rates.apply(live, asyncio.get_running_loop().time())
        assert await warm_start(pool, rates, timeout=5) == len(stored) - 1
    finally:
        await pool.close()
    assert rates.book.ticks[("binance", "BTCUSDT")].price == Decimal("97999")
    assert rates.book.ticks[("binance", "ETHUSDT")].exchange_ts == stamp
    answers = Answers()
    rates.on_change(answers.update)
    answer = answers.answer(ALL)
    assert answer.status == 200 and answer.body.count(b'"stale":true') == 8


async def test_warm_start_gives_up_when_postgres_does_not_answer(refused_port):
    pool = await open_pool(f"postgres://nobody@127.0.0.1:{refused_port}/none")
    try:
        assert await warm_start(pool, Rates(Budgets()), timeout=0.5) is None
    finally:
        await pool.close()


async def test_retention_deletes_old_ticks_in_batches(database_url):
    now = now_ms()
    old = [tick("BTCUSDT", "1", exchange_ts=now - 40 * DAY_MS + n) for n in range(23)]
    recent = [tick("BTCUSDT", "2", exchange_ts=now - n) for n in range(5)]
    pool = await open_pool(database_url)
    try:
        async with pool.acquire() as connection:
            await insert_ticks(connection, old + recent)
        assert await delete_expired(pool, days=30, batch=7, pause=0) == 23
    finally:
        await pool.close()
    assert await rows(database_url) == 5
