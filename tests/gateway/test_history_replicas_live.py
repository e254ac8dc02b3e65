"""What two real replicas serve is stored once, and read back through their own routes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from functools import partial

import asyncpg
import httpx
import pytest

from harness.procs import ProcessGroup, wait_for
from harness.stack import start_feeder, start_forwarder, start_gateway, start_sim

pytestmark = pytest.mark.live

PER_SECOND = """
SELECT count(*) AS rows, count(DISTINCT direction) AS directions FROM served
"""

#: Minute candles that differ from the same minute recomputed from the stored seconds: two
#: replicas folding their batches concurrently must leave none.
INCONSISTENT = """
WITH raw AS (
    SELECT direction, date_bin('1 minute', at, timestamptz 'epoch') AS bucket,
           (array_agg(value ORDER BY at))[1] AS open, max(value) AS high, min(value) AS low,
           (array_agg(value ORDER BY at DESC))[1] AS close
    FROM served GROUP BY 1, 2
)
SELECT count(*) FROM raw FULL JOIN candles_1m c USING (direction, bucket)
WHERE (raw.open, raw.high, raw.low, raw.close) IS DISTINCT FROM (c.open, c.high, c.low, c.close)
"""


async def _fetch(url: str, query: str) -> asyncpg.Record:
    connection = await asyncpg.connect(url)
    try:
        row = await connection.fetchrow(query)
        assert row is not None
        return row
    finally:
        await connection.close()


def _ready(url: str) -> bool:
    return httpx.get(f"{url}/readyz", timeout=5).status_code == 200


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat().replace("+00:00", "Z")


def test_two_replicas_store_what_they_serve_once_and_answer_history(
    procs: ProcessGroup, database_url: str
):
    sim = start_sim(procs, SIM_TICK_INTERVAL="0.2")
    forwarder = start_forwarder(procs)
    gateways = [
        start_gateway(procs, [forwarder], f"gateway-{n}", DATABASE_URL=database_url) for n in (1, 2)
    ]
    for transport in ("binance-ws", "coingecko"):
        start_feeder(procs, transport, sim, [forwarder])

    def eight_directions_over_three_seconds() -> asyncpg.Record | None:
        stored = asyncio.run(_fetch(database_url, PER_SECOND))
        return stored if stored["directions"] == 8 and stored["rows"] >= 8 * 3 else None

    wait_for(eight_directions_over_three_seconds, 30, 0.5, what="served values stored")
    for gateway in gateways:
        gateway.process.stop()  # their writers store what they hold first
    assert asyncio.run(_fetch(database_url, INCONSISTENT))[0] == 0
    gateways = [
        start_gateway(procs, [forwarder], f"gateway-{n}-again", DATABASE_URL=database_url)
        for n in (1, 2)
    ]
    for gateway in gateways:
        wait_for(partial(_ready, gateway.url), 20, 0.1, what="a restarted replica ready")
    now = datetime.now(UTC).timestamp()
    for gateway in gateways:
        at = httpx.get(
            f"{gateway.url}/api/v1/courses/at",
            params={"direction": "BTC-RUB", "time": _iso(now)},
            timeout=5,
        )
        assert at.status_code == 200, at.text
        assert at.json()["exchanger"] in ("binance", "coingecko")
        history = httpx.get(
            f"{gateway.url}/api/v1/courses/history",
            params={"direction": "BTC-RUB", "from": _iso(now - 120), "interval": "1m"},
            timeout=5,
        )
        assert history.status_code == 200, history.text
        candles = history.json()["candles"]
        assert candles and all(c["low"] <= c["close"] <= c["high"] for c in candles)
        assert history.headers["cache-control"] == "public, max-age=1"  # the open minute
        converted = httpx.get(
            f"{gateway.url}/api/v1/convert",
            params={"from": "BTC", "to": "RUB", "amount": "0.25"},
            timeout=5,
        )
        assert converted.status_code == 200, converted.text
