"""The served values, their candles and the history routes against a real, migrated PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import asyncpg
import httpx
import pytest

from common.wire import now_ms
from gateway import history_table
from gateway.app import create_app
from gateway.database import open_pool
from gateway.history_table import DIRECTION_IDS, EXCHANGER_IDS
from gateway.retention import DAY_MS, delete_expired_history
from gateway.served import Recording, ServedWriter
from gateway.settings import GatewaySettings
from tests.gateway.ticks import binance_ticks, coingecko_ticks, insert_ticks, tick

pytestmark = pytest.mark.live

BTC_RUB = DIRECTION_IDS["BTC-RUB"]
BINANCE, COINGECKO = EXCHANGER_IDS["binance"], EXCHANGER_IDS["coingecko"]
#: A whole day, in seconds: 2025-11-24T00:00:00Z.
DAY = 1_763_942_400


def row(second: int, value: str, exchanger: int = BINANCE) -> history_table.Row:
    return (second, second * 1000 - 250, BTC_RUB, exchanger, False, False, value, 2)  # via cg


async def fetch(url: str, query: str, *args):
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def store(url: str, *batches: list[history_table.Row]) -> list[int]:
    connection = await asyncpg.connect(url)
    try:
        return [await history_table.insert_rows(connection, batch) for batch in batches]
    finally:
        await connection.close()


async def test_the_ids_are_the_migrations(database_url):
    directions = await fetch(database_url, "SELECT name, id FROM directions")
    exchangers = await fetch(database_url, "SELECT name, id FROM exchangers")
    assert dict(map(tuple, directions)) == DIRECTION_IDS
    assert dict(map(tuple, exchangers)) == EXCHANGER_IDS


async def test_two_replicas_store_each_second_once_and_the_candles_do_not_double(database_url):
    # A minute's seconds 0..59 rising, then falling; the second replica's batches overlap
    # the first's and come in another order.
    values = [f"{1000 + i}.5" if i < 30 else f"{1060 - i}.25" for i in range(60)]
    rows = [row(DAY + i, v) for i, v in enumerate(values)]
    rows.append(row(DAY + 60, "7.0", COINGECKO))  # the next minute, another source
    first, second = await store(database_url, rows[:40], rows[20:][::-1])
    assert (first, second) == (40, 21)
    again = await store(database_url, rows)
    assert again == [0]
    candle, following = await fetch(database_url, "SELECT * FROM candles_1m ORDER BY bucket")
    assert (candle["open"], candle["high"], candle["low"], candle["close"]) == (
        Decimal("1000.5"),
        Decimal("1030.25"),
        Decimal("1000.5"),
        Decimal("1001.25"),
    )
    assert candle["exchanger"] == BINANCE and following["exchanger"] == COINGECKO
    (hour,) = await fetch(database_url, "SELECT * FROM candles_1h")
    assert (hour["open"], hour["high"], hour["low"], hour["close"]) == (
        Decimal("1000.5"),
        Decimal("1030.25"),
        Decimal("7.0"),
        Decimal("7.0"),
    )
    assert hour["exchanger"] == COINGECKO


async def test_wider_candles_merge_the_rollups_exactly(database_url):
    # One value every 30 s for 8 hours: value = the second's index (half-minutes).
    rows = [row(DAY + 30 * i, f"{i + 1}.0") for i in range(960)]
    await store(database_url, rows)
    connection = await asyncpg.connect(database_url)
    try:
        for width in (60, 300, 900, 3600, 14400, 86400):
            got = await history_table.candles(connection, "BTC-RUB", width, DAY, DAY + 8 * 3600)
            per = width // 30
            expected = [
                (DAY + start * 30, Decimal(start + 1), Decimal(min(start + per, 960)))
                for start in range(0, 960, per)
            ]
            assert [(c.start_s, c.open, c.close) for c in got] == expected, width
            assert all(c.high == c.close and c.low == c.open for c in got)
        assert not await history_table.candles(connection, "ETH-USD", 60, DAY, DAY + 3600)
    finally:
        await connection.close()


async def test_the_value_at_an_instant_is_the_newest_stored_at_or_before_it(database_url):
    await store(database_url, [row(DAY, "1.0"), row(DAY + 10, "2.0", COINGECKO)])
    connection = await asyncpg.connect(database_url)
    try:
        assert await history_table.served_at(connection, "BTC-RUB", DAY * 1000 - 1) is None
        at_start = await history_table.served_at(connection, "BTC-RUB", DAY * 1000)
        later = await history_table.served_at(connection, "BTC-RUB", DAY * 1000 + 9_999)
        after = await history_table.served_at(connection, "BTC-RUB", (DAY + 3600) * 1000)
    finally:
        await connection.close()
    assert at_start is not None and later == at_start
    assert (at_start.value, at_start.exchanger, at_start.via) == (
        Decimal("1.0"),
        "binance",
        ("coingecko",),
    )
    assert at_start.set_ms == DAY * 1000 - 250
    assert after is not None and (after.value, after.exchanger) == (Decimal("2.0"), "coingecko")


async def test_retention_trims_seconds_and_minutes_and_keeps_hours(database_url):
    now_s = now_ms() // 1000
    old, recent = now_s - 3 * 86400, now_s - 60
    await store(database_url, [row(old, "1.0"), row(recent, "2.0")])
    pool = await open_pool(database_url)
    try:
        assert await delete_expired_history(pool, "served", 2, batch=1) == 1
        assert await delete_expired_history(pool, "candles_1m", 2.5, batch=10) == 1
    finally:
        await pool.close()
    counts = await fetch(
        database_url,
        "SELECT (SELECT count(*) FROM served), (SELECT count(*) FROM candles_1m),"
        " (SELECT count(*) FROM candles_1h)",
    )
    assert tuple(counts[0]) == (1, 1, 2)
    assert DAY_MS == 86_400_000


async def test_what_the_rates_serve_is_recorded_through_the_writer(database_url):
    pool = await open_pool(database_url)
    app = create_app(GatewaySettings())
    rates = app.state.gateway.rates
    writer = ServedWriter(pool, history_table.insert_rows, flush_interval=0.05)
    recording = Recording(writer)
    rates.on_change(recording.on_pricings)
    tasks = [asyncio.create_task(writer.run()), asyncio.create_task(recording.run())]
    try:
        now = time.monotonic()
        for given in (*binance_ticks(now_ms()), *coingecko_ticks(now_ms())):
            rates.apply(given, now)
        rates.reprice(now)
        async with asyncio.timeout(10):
            while writer.stats.stored < 8:
                await asyncio.sleep(0.02)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await pool.close()
    stored = await fetch(
        database_url,
        "SELECT d.name, s.value, e.name AS exchanger FROM served s"
        " JOIN directions d ON d.id = s.direction JOIN exchangers e ON e.id = s.exchanger",
    )
    served = {c.direction: c.value for c in rates.pricings[None].courses if c is not None}
    assert {r["name"]: r["value"] for r in stored} == served
    assert {r["exchanger"] for r in stored} == {"binance"}


@pytest.fixture(name="client")
async def client_fixture(database_url):
    """A replica's app in process, reading a migrated database; nothing else runs."""
    app = create_app(GatewaySettings(history_settle_seconds=5))
    app.state.gateway.pool = pool = await open_pool(database_url)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            yield client
    finally:
        await pool.close()


async def test_history_answers_candles_with_a_tag_and_a_long_max_age_once_closed(
    database_url, client
):
    await store(database_url, [row(DAY + i, f"{100 + i}.0") for i in range(120)])
    query = "/api/v1/courses/history?direction=BTC-RUB&from=2025-11-24T00:00:00Z"
    answer = await client.get(query + "&to=2025-11-24T00:05:00Z&interval=1m")
    assert answer.status_code == 200
    assert answer.json() == {
        "direction": "BTC-RUB",
        "interval": "1m",
        "candles": [
            {
                "time": "2025-11-24T00:00:00.000Z",
                "open": 100.0,
                "high": 159.0,
                "low": 100.0,
                "close": 159.0,
                "exchanger": "binance",
            },
            {
                "time": "2025-11-24T00:01:00.000Z",
                "open": 160.0,
                "high": 219.0,
                "low": 160.0,
                "close": 219.0,
                "exchanger": "binance",
            },
        ],
    }
    assert answer.headers["cache-control"] == "public, max-age=86400, immutable"
    etag = answer.headers["etag"]
    again = await client.get(query + "&to=2025-11-24T00:05:00Z", headers={"if-none-match": etag})
    assert again.status_code == 304
    until_now = await client.get(query + "&interval=1d")
    assert until_now.headers["cache-control"] == "public, max-age=1"
    assert len(until_now.json()["candles"]) == 1
    too_many = await client.get(query + "&interval=1m")
    assert too_many.status_code == 422
    assert "at most 1000 candles" in too_many.json()["detail"]


async def test_the_course_at_an_instant_and_a_conversion_then(database_url, client):
    await store(database_url, [row(DAY, "8984519.3")])
    set_ms = DAY * 1000 - 250  # the row's updated_at: its newest leg's time
    connection = await asyncpg.connect(database_url)
    try:
        await insert_ticks(
            connection,
            [
                tick("BTCUSDT", "97000.1", set_ms - 900),
                tick("BTCUSDT", "97000.2", set_ms),
                tick("BTCUSDT", "97999.9", set_ms + 1),  # after the value: not behind it
                tick("USDCUSDT", "1.0001", set_ms - 5_000),
                tick("bitcoin.rub", "9000000", set_ms - 60_000, "coingecko"),
                tick("bitcoin.usd", "97100", set_ms - 60_000, "coingecko"),
            ],
        )
    finally:
        await connection.close()
    before = await client.get("/api/v1/courses/at?direction=BTC-RUB&time=2025-11-23T23:59:59Z")
    assert before.status_code == 404
    at = await client.get("/api/v1/courses/at?direction=BTC-RUB&time=2025-11-24T00:00:00.5Z")
    assert at.status_code == 200
    assert at.json() == {
        "time": "2025-11-24T00:00:00.500Z",
        "direction": "BTC-RUB",
        "value": 8984519.3,
        "exchanger": "binance",
        "updated_at": "2025-11-23T23:59:59.750Z",
        "served_from": "2025-11-24T00:00:00.000Z",
        "stale": False,
        "disputed": False,
        "via": ["coingecko"],
        "legs": [
            {"source": "binance", "instrument": "BTCUSDT", "price": 97000.2,
             "at": "2025-11-23T23:59:59.750Z"},
            {"source": "binance", "instrument": "USDCUSDT", "price": 1.0001,
             "at": "2025-11-23T23:59:54.750Z"},
            {"source": "coingecko", "instrument": "bitcoin.rub", "price": 9000000,
             "at": "2025-11-23T23:58:59.750Z"},
            {"source": "coingecko", "instrument": "bitcoin.usd", "price": 97100,
             "at": "2025-11-23T23:58:59.750Z"},
        ],
    }  # fmt: skip
    converted = await client.get(
        "/api/v1/convert?from=BTC&to=RUB&amount=0.25&time=2025-11-24T00:00:01Z"
    )
    assert converted.status_code == 200
    assert converted.json()["result"] == 2246129.825
    assert b'"result":2246129.825' in converted.content
    back = await client.get(
        "/api/v1/convert?from=RUB&to=BTC&amount=1000000&time=2025-11-24T01:00:00Z"
    )
    assert (back.json()["from"], back.json()["to"], back.json()["result"]) == (
        "RUB",
        "BTC",
        0.11130256,
    )
    now = await client.get("/api/v1/convert?from=BTC&to=RUB&amount=1")
    assert now.status_code == 503  # nothing served yet by this replica
    assert now.headers["retry-after"] == "1"


async def test_without_a_database_the_history_routes_say_so():
    app = create_app(GatewaySettings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        answer = await client.get("/api/v1/courses/at?direction=BTC-RUB&time=2025-11-24T00:00:00Z")
    assert answer.status_code == 503
    assert "no database" in answer.json()["detail"]


async def test_a_database_gone_is_a_503_not_a_500(refused_port):
    app = create_app(GatewaySettings())
    app.state.gateway.pool = pool = await open_pool(
        f"postgresql://postgres@127.0.0.1:{refused_port}/x"
    )
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            answer = await client.get(
                "/api/v1/courses/history?direction=BTC-RUB&from=2025-11-24T00:00:00Z&interval=1d"
            )
    finally:
        await pool.close()
    assert answer.status_code == 503
    assert "not answering" in answer.json()["detail"]
