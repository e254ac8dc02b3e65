from __future__ import annotations

import asyncio

import httpx

from gateway.app import create_app
from gateway.settings import GatewaySettings
from tests.procs import free_port


async def test_the_lifespan_owns_the_background_tasks_and_stops_them():
    settings = GatewaySettings(zmq_sub_endpoints=(f"tcp://127.0.0.1:{free_port()}",))
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


def test_two_apps_share_nothing():
    first = create_app(GatewaySettings())
    second = create_app(GatewaySettings())
    assert first.state.gateway.rates is not second.state.gateway.rates
