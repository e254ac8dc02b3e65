"""The tick writer's sustained throughput into PostgreSQL, and the memory of its full buffer.

``python -m bench.writer [--ticks 200000] [--batch 5000]`` (``make bench-writer``)

A backlog the size of the default buffer (what a long Postgres outage leaves) is queued, then
drained into a fresh, migrated database: the server in ``TEST_DATABASE_URL`` or a private
cluster. Ticks are made by decoding wire payloads, as the subscriber makes them, so their memory
is what a real backlog holds.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import tracemalloc
from decimal import Decimal

from common.markets import BINANCE_SYMBOLS, COINGECKO_INSTRUMENTS
from common.wire import Tick, decode, encode, now_ms
from gateway.database import open_pool
from gateway.writer import TickWriter
from harness.postgres import admin_url, scratch_database

INSTRUMENTS = [("binance", s) for s in BINANCE_SYMBOLS] + [
    ("coingecko", i) for i in COINGECKO_INSTRUMENTS
]


def backlog(count: int) -> list[Tick]:
    """``count`` distinct events, decoded from their wire form."""
    rng = random.Random(7)
    start = now_ms() - count
    ticks = []
    for n in range(count):
        source, instrument = INSTRUMENTS[n % len(INSTRUMENTS)]
        tick = Tick(
            source=source,
            instrument=instrument,
            price=Decimal(rng.randrange(1, 10**12)) / 10**8,
            exchange_ts=start + n,
            received_ts=start + n + 3,
            feeder_id=f"{source}-ws@host:{1000 + n % 3}",
            seq=n,
            transport="binance-ws" if source == "binance" else "coingecko",
        )
        received = decode(encode(tick)[1])  # as a gateway holds it: decoded from the wire
        assert isinstance(received, Tick)
        ticks.append(received)
    return ticks


async def measure(url: str, count: int, batch: int) -> None:
    """Queue the backlog, then time its drain."""
    pool = await open_pool(url)
    writer = TickWriter(pool, batch_size=batch, flush_interval=0.05, buffer_limit=count)
    ticks = backlog(count)
    tracemalloc.start()  # what the buffer adds to ticks the subscriber decoded anyway
    for tick in ticks:
        writer.submit(tick)
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del ticks
    started = time.perf_counter()
    task = asyncio.create_task(writer.run())
    while writer.pending:
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with pool.acquire() as connection:
        stored = await connection.fetchval("SELECT count(*) FROM ticks")
    await pool.close()
    print(
        f"{count} ticks in batches of {batch}: drained in {elapsed:.2f} s = "
        f"{count / elapsed:,.0f} ticks/s ({writer.stats.batches} batches, "
        f"{stored} rows); the full buffer held {held / 2**20:.1f} MiB "
        f"({held / count:.0f} bytes per tick)"
    )


def main() -> None:
    """Run against a fresh database and report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[5000])
    args = parser.parse_args()
    with admin_url() as admin:
        for batch in args.batch:
            with scratch_database(admin, "ratewire_bench") as url:
                asyncio.run(measure(url, args.ticks, batch))


if __name__ == "__main__":
    main()
