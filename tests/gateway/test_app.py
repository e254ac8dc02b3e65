from __future__ import annotations

import asyncio

import httpx

from common.wire import now_ms
from gateway.app import create_app
from gateway.database import open_pool
from gateway.settings import GatewaySettings
from tests.gateway.ticks import binance_ticks, insert_ticks


async def test_the_lifespan_owns_the_background_tasks_and_stops_them(refused_port):
    settings = GatewaySettings(zmq_sub_endpoints=(f"tcp://127.0.0.1:{refused_port}",))
    app = create_app(settings)
    gateway = app.state.gateway
    async with app.router.lifespan_context(app):
        tasks = list(gateway._tasks)  # pylint: disable=protected-access
        assert [t.get_name() for t in tasks] == ["subscriber"]
        await asyncio.sleep(0.05)
        assert not tasks[0].done()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            assert (await client.get("/api/v1/courses")).status_code == 503
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["reason"] == "not connected to any forwarder"
    assert all(task.done() for task in tasks)
    assert not gateway._tasks  # pylint: disable=protected-access


async def test_a_dead_background_task_asks_to_stop_and_unreadies_the_replica(refused_port):
    settings = GatewaySettings(zmq_sub_endpoints=(f"tcp://127.0.0.1:{refused_port}",))
    fatal = asyncio.Event()
    app = create_app(settings, on_fatal=fatal.set)
    gateway = app.state.gateway

    async def doomed() -> None:
        raise RuntimeError("boom")

    async with app.router.lifespan_context(app):
        gateway._run_forever(doomed(), "doomed")  # pylint: disable=protected-access
        await asyncio.wait_for(fatal.wait(), 5)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["reason"] == "doomed ended"


def test_two_apps_share_nothing():
    first = create_app(GatewaySettings())
    second = create_app(GatewaySettings())
    assert first.state.gateway.rates is not second.state.gateway.rates


async def test_a_read_only_replica_warms_up_but_stores_nothing(database_url, refused_port):
    pool = await open_pool(database_url)
    async with pool.acquire() as connection:
        await insert_ticks(connection, binance_ticks(now_ms() - 5000))
    await pool.close()
    settings = GatewaySettings(
        zmq_sub_endpoints=(f"tcp://127.0.0.1:{refused_port}",),
        database_url=database_url,
        gateway_write_ticks=False,
    )
    app = create_app(settings)
    gateway = app.state.gateway
    async with app.router.lifespan_context(app):
        await asyncio.wait_for(gateway.warmed.wait(), 5)
        assert gateway.writer is None
        assert [t.get_name() for t in gateway._tasks] == [  # pylint: disable=protected-access
            "subscriber",
            "warm-start",
        ]
        assert len(gateway.rates.book.ticks) == 3


async def test_metrics_are_exported_per_app(refused_port):
    settings = GatewaySettings(zmq_sub_endpoints=(f"tcp://127.0.0.1:{refused_port}",))
    apps = [create_app(settings), create_app(settings)]  # one registry each: no clash
    app = apps[0]
    rates = app.state.gateway.rates
    async with app.router.lifespan_context(app):
        for message in binance_ticks(now_ms()):
            rates.apply(message, asyncio.get_running_loop().time())
        rates.reprice(asyncio.get_running_loop().time())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
            assert (await client.get("/api/v1/courses")).status_code == 200
            assert (await client.get("/api/v1/courses?base=DOGE")).status_code == 422
            text = (await client.get("/metrics")).text
    assert 'http_requests_total{handler="/api/v1/courses",status="2xx"} 1.0' in text
    assert 'http_request_duration_seconds_count{handler="/api/v1/courses"} 2.0' in text
    assert 'status="4xx"' in text
    assert 'rates_direction_source{direction="BTC-USD",exchanger="binance"} 1.0' in text
    assert 'rates_direction_stale{direction="BTC-USD"} 0.0' in text
    assert 'rates_source_up{source="binance"} 1.0' in text
    assert 'rates_source_up{source="coingecko"} 0.0' in text
    assert "rates_direction_age_seconds" in text
    assert 'handler="/metrics"' not in text
