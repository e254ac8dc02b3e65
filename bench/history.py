"""History at scale: 30 days of one served value per second for the 8 directions (~20.7M rows).

``python -m bench.history [--days 30] [--queries 300] [--keep]`` (``make bench-history``)

Into its own database (``ratewire_bench_history``) on the server in ``BENCH_DATABASE_URL``
(default: this machine's, 127.0.0.1:5432), migrated with the real migrations; dropped after
unless ``--keep`` (then a rerun with ``--reuse`` skips the load).

1. Load: each direction's seconds generated in the server (a deterministic wave plus noise,
   8 decimal places) and inserted set-wise, then the candles built from all of them at once by
   the writer's own fold (``history_table.fold``).
2. Queries, through the gateway's own code (``gateway.history_table``, the JSON the API sends),
   at random places in the 30 days: 24 h of 1-minute and of 15-minute candles, 30 days of
   1-hour candles, 7 days of 4-hour candles, a point-in-time lookup. Medians and p99 in ms.
3. Meanwhile a served-values writer and a tick writer store live-rate rows (8 served values
   and 100 ticks a second) into the same database: their flush times, and whether anything
   waits at the end (the writer keeping up).
4. Sizes: each table with its indexes, per million rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg

from common.wire import Tick, now_ms
from gateway import history_table
from gateway.database import open_pool
from gateway.served import ServedWriter
from gateway.writer import TickWriter
from harness.postgres import execute, with_database
from launcher.migrate import migrate

DATABASE = "ratewire_bench_history"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres?sslmode=disable"
#: Each direction's level, roughly as served.
LEVELS = {
    "BTC-USD": 97_000,
    "BTC-RUB": 9_000_000,
    "ETH-USD": 3_400,
    "ETH-RUB": 315_000,
    "USDTTRC-USD": 1,
    "USDTTRC-RUB": 92.7,
    "USDTERC-USD": 1,
    "USDTERC-RUB": 92.7,
}

#: One direction's seconds: a day's wave, an hour's ripple and noise; Binance with
#: CoinGecko's via on RUB directions, CoinGecko for 2 minutes every 6 hours (a failover).
LOAD_DIRECTION = """
INSERT INTO served (at, set_at, direction, exchanger, stale, disputed, value, via)
SELECT timestamptz 'epoch' + s * interval '1 second',
       timestamptz 'epoch' + (s * 1000 - 300) * interval '1 millisecond',
       $1::smallint,
       CASE WHEN s % 21600 < 120 THEN 2 ELSE 1 END,
       false, false,
       round(($2::float8 * (1 + 0.03 * sin(s / 13751.0) + 0.002 * sin(s / 573.0)
                            + 0.0005 * random()))::numeric, 8),
       CASE WHEN $4 AND s % 21600 >= 120 THEN 2 END  -- via coingecko: bit (2 - 1)
FROM generate_series($3::bigint, $3::bigint + $5::bigint - 1) AS s
"""

#: The candles of every row of a direction ($1), folded at once as the writer folds each batch.
BUILD_CANDLES = [
    "WITH fresh AS (SELECT at, direction, exchanger, value FROM served WHERE direction = $1)"
    + history_table.fold(table, width)
    for table, width in (("candles_1m", "1 minute"), ("candles_1h", "1 hour"))
]

SIZES = """
SELECT relname, n_live_tup::bigint AS rows, pg_relation_size(relid) AS heap,
       pg_indexes_size(relid) AS indexes, pg_total_relation_size(relid) AS total
FROM pg_stat_user_tables WHERE relname IN ('served', 'candles_1m', 'candles_1h', 'ticks')
ORDER BY relname
"""


async def load(url: str, days: int) -> tuple[int, int]:
    """Fill the tables with ``days`` ending now; returns (rows, start second)."""
    seconds = days * 86400
    start = now_ms() // 1000 - seconds
    connection = await asyncpg.connect(url)
    try:
        # The rows' directions and exchangers are right by construction: skip the foreign
        # keys' per-row triggers while loading (a superuser's session setting).
        await connection.execute("SET session_replication_role = replica")
        for direction, level in LEVELS.items():
            started = time.monotonic()
            await connection.execute(
                LOAD_DIRECTION,
                history_table.DIRECTION_IDS[direction],
                level,
                start,
                direction.endswith("RUB"),
                seconds,
            )
            for build in BUILD_CANDLES:
                await connection.execute(build, history_table.DIRECTION_IDS[direction])
            print(
                f"  {direction}: {seconds:,} rows and candles in {time.monotonic() - started:.1f} s"
            )
        await connection.execute("VACUUM (ANALYZE) served, candles_1m, candles_1h")
    finally:
        await connection.close()
    return seconds * len(LEVELS), start


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"median {statistics.median(ordered):6.2f} ms, p99 {p99:6.2f} ms, max {ordered[-1]:6.2f} ms"
    )


async def timed(
    pool: asyncpg.Pool, count: int, query: Callable[[history_table.Connection], Awaitable[object]]
) -> list[float]:
    """``count`` runs of ``query`` one after another on one connection, each in ms."""
    samples = []
    async with pool.acquire() as connection:
        for _ in range(count):
            started = time.perf_counter()
            await query(connection)
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def live_writers(pool: asyncpg.Pool, stop: asyncio.Event) -> tuple[ServedWriter, TickWriter]:
    """Store 8 served values and 100 ticks a second until ``stop``; the writers, after."""
    served = ServedWriter(pool, history_table.insert_rows, flush_interval=0.5)
    ticks = TickWriter(pool, flush_interval=0.5)
    tasks = [asyncio.create_task(served.run()), asyncio.create_task(ticks.run())]
    flushes: list[float] = []
    served.on_flush = lambda size, seconds: flushes.append(seconds * 1000)
    sequence = 0
    try:
        while not stop.is_set():
            now = now_ms()
            for direction, number in history_table.DIRECTION_IDS.items():
                value = f"{LEVELS[direction] * (1 + random.random() / 1000):.8f}"
                served.append((now // 1000, now, number, 1, False, False, value, 0))
            for _ in range(10):
                sequence += 1
                ticks.submit(
                    Tick(
                        source="binance",
                        instrument="BTCUSDT",
                        price=Decimal("97000.5"),
                        exchange_ts=now * 1000 + sequence % 1000,  # distinct events
                        received_ts=now,
                        feeder_id="bench",
                        seq=sequence,
                        transport="binance-ws",
                    )
                )
            await asyncio.sleep(0.1 if sequence % 100 else 1.0 - (now % 1000) / 1000)
        async with asyncio.timeout(10):
            while served.pending or ticks.pending:
                await asyncio.sleep(0.05)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(f"  live writers: {served.stats.stored} served values and {ticks.stats.stored} ticks "
          f"stored, {served.pending + ticks.pending} left waiting; served flushes "
          f"{percentiles(flushes) if flushes else 'none'}")  # fmt: skip
    return served, ticks


async def measure(  # pylint: disable=too-many-locals
    url: str, days: int, queries: int, reuse: bool
) -> None:
    """Load (unless ``reuse``), query while the writers write, report sizes."""
    print(f"load average before: {os.getloadavg()}")
    if reuse:
        connection = await asyncpg.connect(url)
        rows = await connection.fetchval("SELECT count(*) FROM served")
        start = await connection.fetchval("SELECT min(extract(epoch from at))::bigint FROM served")
        await connection.close()
        print(f"reusing {rows:,} rows")
    else:
        started = time.monotonic()
        rows, start = await load(url, days)
        print(f"loaded {rows:,} rows in {time.monotonic() - started:.0f} s")
    end = start + days * 86400
    rng = random.Random(16)
    pool = await open_pool(url)
    stop = asyncio.Event()
    writers = asyncio.create_task(live_writers(pool, stop))
    directions = list(LEVELS)
    day_s = 86400

    def day_of_minutes(connection: history_table.Connection) -> Awaitable[object]:
        since = rng.randrange(start, end - day_s)
        return history_table.candles_json(connection, rng.choice(directions), 60, since // 60 * 60,
                                     since + day_s)  # fmt: skip

    def month_of_hours(connection: history_table.Connection) -> Awaitable[object]:
        return history_table.candles_json(connection, rng.choice(directions), 3600,
                                     start // 3600 * 3600, end)  # fmt: skip

    def day_of_15m(connection: history_table.Connection) -> Awaitable[object]:
        since = rng.randrange(start, end - day_s)
        return history_table.candles_json(connection, rng.choice(directions), 900,
                                          since // 900 * 900, since + day_s)  # fmt: skip

    def week_of_4h(connection: history_table.Connection) -> Awaitable[object]:
        since = rng.randrange(start, max(start + 1, end - 7 * day_s))
        return history_table.candles_json(connection, rng.choice(directions), 14400,
                                     since // 14400 * 14400, since + 7 * day_s)  # fmt: skip

    def point(connection: history_table.Connection) -> Awaitable[object]:
        return history_table.served_at(connection, rng.choice(directions),
                                       rng.randrange(start, end) * 1000)  # fmt: skip

    try:
        for name, query in (
            ("24 h of 1m candles", day_of_minutes),
            ("24 h of 15m candles (merged from 1m)", day_of_15m),
            ("30 d of 1h candles", month_of_hours),
            ("7 d of 4h candles (merged from 1h)", week_of_4h),
            ("point-in-time lookup", point),
        ):
            await timed(pool, 5, query)  # connection and plan warm-up
            samples = await timed(pool, queries, query)
            print(f"  {name:36} {percentiles(samples)}  ({queries} queries)")
            print(f"    load average: {os.getloadavg()[0]:.2f}")
    finally:
        stop.set()
        try:
            await writers
        finally:
            await pool.close()
    await print_sizes(url)


async def print_sizes(url: str) -> None:
    """Each table's heap and indexes, and per million rows."""
    connection = await asyncpg.connect(url)
    try:
        for size in await connection.fetch(SIZES):
            mib = {name: size[name] / 2**20 for name in ("heap", "indexes", "total")}
            per_million = mib["total"] / max(size["rows"], 1) * 1e6
            print(f"  {size['relname']:11} {size['rows']:>12,} rows: heap {mib['heap']:8.1f} "
                  f"MiB, indexes {mib['indexes']:7.1f} MiB, total {mib['total']:8.1f} MiB = "
                  f"{per_million:6.1f} MiB per million rows")  # fmt: skip
    finally:
        await connection.close()


def main() -> None:
    """Create the database, measure, drop it (unless ``--keep``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--keep", action="store_true", help="keep the database after")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database again")
    arguments = parser.parse_args()
    admin = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    url = with_database(admin, DATABASE)
    if not arguments.reuse:
        asyncio.run(execute(admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        asyncio.run(execute(admin, f"CREATE DATABASE {DATABASE}"))
        migrate(url)
    try:
        asyncio.run(measure(url, arguments.days, arguments.queries, arguments.reuse))
    finally:
        if not arguments.keep:
            asyncio.run(execute(admin, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))


if __name__ == "__main__":
    main()
