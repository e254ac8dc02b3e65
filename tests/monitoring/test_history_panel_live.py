"""The history dashboard's SQL, with its macros expanded as Grafana expands them, against a
real, migrated PostgreSQL holding served values."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal

import asyncpg
import pytest

from gateway import history_table
from monitoring.dashboards import rendered
from monitoring.history_dashboard import PRICE_SQL, SOURCE_SQL, UID

pytestmark = pytest.mark.live

DAY = 1_763_942_400  # 2025-11-24T00:00:00Z
BTC_RUB = history_table.DIRECTION_IDS["BTC-RUB"]
ETH_USD = history_table.DIRECTION_IDS["ETH-USD"]


def expand(sql: str, direction: str, start: str, end: str, interval_ms: int) -> str:
    """What Grafana's PostgreSQL datasource sends for ``sql``."""
    sql = re.sub(r"\$__timeFilter\(([^)]+)\)", rf"\1 BETWEEN '{start}' AND '{end}'", sql)
    return sql.replace("$__interval_ms", str(interval_ms)).replace("$direction", f"'{direction}'")


async def run(url: str, *queries: str) -> list[list[asyncpg.Record]]:
    """Store two hours of BTC-RUB and ETH-USD, then run ``queries``."""
    connection = await asyncpg.connect(url)
    try:
        rows = [
            (DAY + 30 * i, DAY * 1000, direction, 1 if i < 100 else 2, False, False, f"{i}.5", 0)
            for i in range(240)  # two hours, every 30 s; coingecko from 50 minutes on
            for direction in (BTC_RUB, ETH_USD)
        ]
        await history_table.insert_rows(connection, rows)
        return [await connection.fetch(query) for query in queries]
    finally:
        await connection.close()


def test_the_panels_sql_charts_the_stored_candles(database_url):
    window = ("2025-11-24T00:00:00Z", "2025-11-24T01:59:59Z")
    minutes, hours, sources = asyncio.run(
        run(
            database_url,
            expand(PRICE_SQL, "BTC-RUB", *window, interval_ms=60_000),
            expand(PRICE_SQL, "BTC-RUB", *window, interval_ms=3_600_000),
            expand(SOURCE_SQL, "BTC-RUB", *window, interval_ms=60_000),
        )
    )
    assert len(minutes) == 120 and {row["metric"] for row in minutes} == {"BTC-RUB"}
    assert [row["value"] for row in minutes[:2]] == [Decimal("1.5"), Decimal("3.5")]
    assert [row["time"] for row in minutes] == sorted(row["time"] for row in minutes)
    assert [row["value"] for row in hours] == [Decimal("119.5"), Decimal("239.5")]
    assert [row["metric"] for row in sources].count("coingecko") == 70


def test_the_dashboard_file_holds_that_sql_on_the_history_datasource():
    model = json.loads(rendered()[f"{UID}.json"])
    targets = [target for panel in model["panels"] for target in panel["targets"]]
    assert [target["rawSql"] for target in targets] == [PRICE_SQL, SOURCE_SQL]
    assert {target["datasource"]["uid"] for target in targets} == {"history"}
