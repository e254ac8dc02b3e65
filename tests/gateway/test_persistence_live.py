"""Persistence through real processes: a Postgres outage mid-stream, a restart with every
exchange down."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from harness.mesh import MeshListener
from harness.postgres import dispose, private_cluster
from harness.procs import ProcessGroup, wait_for
from harness.stack import start_feeder, start_forwarder, start_gateway, start_sim
from launcher.migrate import migrate

pytestmark = pytest.mark.live

KEYS = """
SELECT source, instrument, (extract(epoch from exchange_ts) * 1000)::bigint FROM ticks
"""


async def stored_keys(url: str) -> set[tuple[str, str, int]]:
    connection = await asyncpg.connect(url)
    try:
        return {tuple(row) for row in await connection.fetch(KEYS)}
    finally:
        await connection.close()


def writer_state(gateway_url: str) -> dict[str, int]:
    state: dict[str, int] = httpx.get(f"{gateway_url}/api/v1/sources", timeout=5).json()["writer"]
    return state


def subscribed(gateway_url: str) -> bool:
    reason = httpx.get(f"{gateway_url}/readyz", timeout=5).json()["reason"]
    return reason != "not connected to any forwarder" and "warming" not in reason


def retrying(gateway_url: str) -> dict[str, int] | None:
    """The writer's state once it has been refused a few times and holds a hundred ticks."""
    state = writer_state(gateway_url)
    return state if state["retries"] >= 3 and state["pending"] >= 100 else None


def received_keys(listener: MeshListener) -> set[tuple[str, str, int]]:
    """Every tick event the listener saw, replays included."""
    return {
        (r.message.source, r.message.instrument, r.message.exchange_ts)
        for r in listener.ticks(live_only=False)
    }


def test_a_postgres_outage_loses_nothing_and_doubles_nothing(procs: ProcessGroup):
    cluster = private_cluster()
    listener = None
    try:
        migrate(cluster.url)
        sim = start_sim(procs, SIM_TICK_INTERVAL="0.25")
        forwarder = start_forwarder(procs)
        gateway = start_gateway(
            procs, [forwarder], DATABASE_URL=cluster.url, WRITER_FLUSH_INTERVAL="0.2"
        )
        listener = MeshListener([forwarder.xpub], prefix=b"tick.")
        wait_for(lambda: subscribed(gateway.url), 10, what="gateway subscribed")
        listener.wait_subscribed([forwarder.xsub])
        feeders = [
            start_feeder(procs, transport, sim, [forwarder])
            for transport in ("binance-ws", "binance-rest", "coingecko")
        ]
        wait_for(lambda: writer_state(gateway.url)["stored"] > 20, 10, what="ticks stored")
        cluster.stop()
        outage_began = time.monotonic()
        # Down until the writer has been refused a few times with many ticks waiting.
        during = wait_for(
            lambda: retrying(gateway.url), 60, what="the writer retrying through the outage"
        )
        cluster.start()
        outage = time.monotonic() - outage_began
        stored_before = writer_state(gateway.url)["stored"]
        wait_for(lambda: writer_state(gateway.url)["stored"] > stored_before, 15, what="resumed")
        for feeder in feeders:
            feeder.stop()
        # Everything the listener saw reaches the table (late replays are events seen already).
        wait_for(
            lambda: writer_state(gateway.url)["pending"] == 0
            and asyncio.run(stored_keys(cluster.url)) == received_keys(listener),
            20,
            what="every event received stored",
        )
        received = received_keys(listener)
        stored = asyncio.run(stored_keys(cluster.url))
        after = writer_state(gateway.url)
    finally:
        if listener is not None:
            listener.close()
        procs.stop_all()
        dispose(cluster)
    print(
        f"Postgres down {outage:.1f} s: {len(listener.ticks(live_only=False))} tick messages, "
        f"{len(received)} distinct events received, {len(stored)} rows stored; "
        f"{during['pending']} were pending during the outage, {after['retries']} retries, "
        f"{after['dropped']} dropped"
    )
    assert after["dropped"] == 0
    assert stored == received  # none lost; the key makes doubling impossible


def _serve_then_lose_every_exchange(procs: ProcessGroup, database_url: str):
    """A gateway that stored fresh rates, then every exchange down and every feeder gone;
    returns the forwarder, and the gateway's last answer before it was stopped."""
    sim = start_sim(procs, SIM_TICK_INTERVAL="0.5")
    forwarder = start_forwarder(procs)
    feeders = [
        start_feeder(procs, transport, sim, [forwarder])
        for transport in ("binance-ws", "binance-rest", "coingecko")
    ]
    first = start_gateway(procs, [forwarder], "gateway-a", DATABASE_URL=database_url)

    def all_fresh() -> bool:
        response = httpx.get(f"{first.url}/api/v1/courses", timeout=5)
        courses = response.json().get("courses", []) if response.status_code == 200 else []
        return len(courses) == 8 and not any(c["stale"] for c in courses)

    wait_for(all_fresh, 15, what="all eight directions fresh")
    for target, fault in (("binance-ws", "stall"), ("binance-rest", "5xx"), ("coingecko", "5xx")):
        sim.inject(target, fault, seconds=120)
    # With the exchanges down and the feeders gone, only Postgres can tell a new replica.
    for feeder in feeders:
        feeder.stop()
    wait_for(lambda: writer_state(first.url)["pending"] == 0, 10, what="everything stored")
    last = httpx.get(f"{first.url}/api/v1/courses", timeout=5).json()
    first.process.stop()
    return forwarder, last


def test_a_gateway_restarted_with_the_exchanges_down_serves_stored_rates_at_once(
    procs: ProcessGroup, database_url: str
):
    forwarder, last = _serve_then_lose_every_exchange(procs, database_url)
    started = time.monotonic()
    second = start_gateway(procs, [forwarder], "gateway-b", DATABASE_URL=database_url)
    listening = time.monotonic() - started
    answer = httpx.get(f"{second.url}/api/v1/courses", timeout=5)
    served = time.monotonic() - started
    ready = httpx.get(f"{second.url}/readyz", timeout=5)
    print(
        f"restarted replica: listening {listening:.2f} s after start, first answer "
        f"{answer.status_code} at {served:.2f} s, ready: {ready.json()['reason']}"
    )
    assert answer.status_code == 200
    courses = answer.json()["courses"]
    assert len(courses) == 8 and all(c["stale"] for c in courses)
    assert [c["value"] for c in courses] == [c["value"] for c in last["courses"]]
    assert ready.status_code == 200


def test_two_websocket_feeders_on_different_hosts_store_each_event_once(
    procs: ProcessGroup, database_url: str
):
    sim = start_sim(procs, SIM_TICK_INTERVAL="0.25")
    forwarder = start_forwarder(procs)
    gateway = start_gateway(
        procs, [forwarder], DATABASE_URL=database_url, WRITER_FLUSH_INTERVAL="0.2"
    )
    listener = MeshListener([forwarder.xpub], prefix=b"tick.binance.")
    try:
        wait_for(lambda: subscribed(gateway.url), 10, what="gateway subscribed")
        listener.wait_subscribed([forwarder.xsub])
        hosts = [f"ws://127.0.0.1:{port}" for port in sim.ws_ports]
        feeders = [
            start_feeder(
                procs,
                "binance-ws",
                sim,
                [forwarder],
                BINANCE_WS_URLS=",".join(order),
                FEEDER_ID=name,
            )
            for name, order in (("ws-a", hosts), ("ws-b", hosts[::-1]))
        ]

        def delivered(name: str) -> int:
            return sum(1 for r in listener.ticks() if r.message.feeder_id == name)

        wait_for(lambda: delivered("ws-a") > 30 and delivered("ws-b") > 30, 15, what="both")
        for feeder in feeders:
            feeder.stop()
        wait_for(
            lambda: writer_state(gateway.url)["pending"] == 0
            and asyncio.run(stored_keys(database_url)) == received_keys(listener),
            20,
            what="every event received stored",
        )
        by_feeder = {
            name: {
                (r.message.source, r.message.instrument, r.message.exchange_ts)
                for r in listener.ticks(live_only=False)
                if r.message.feeder_id == name
            }
            for name in ("ws-a", "ws-b")
        }
        stored = asyncio.run(stored_keys(database_url))
    finally:
        listener.close()
    both = by_feeder["ws-a"] & by_feeder["ws-b"]
    print(
        f"two binance-ws feeders: {len(by_feeder['ws-a'])} and {len(by_feeder['ws-b'])} events, "
        f"{len(both)} the same; {len(stored)} rows stored"
    )
    assert len(both) > 0.9 * min(len(events) for events in by_feeder.values())
    assert stored == by_feeder["ws-a"] | by_feeder["ws-b"]
