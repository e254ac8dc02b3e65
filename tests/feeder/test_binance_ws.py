"""The websocket feed against the simulator in the test's loop: failover, the stall watchdog,
the serverShutdown and rotation handovers, malformed frames, lost connections.

Each handover is checked by the order of events (the replacement opened before the old
connection closed), not by timing; the gaps in the tick stream are printed (``pytest -s``),
as figures, not asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from common.markets import BINANCE_SYMBOLS
from feeder.binance_ws import BinanceWsFeed
from feeder.settings import FeederSettings
from harness.procs import until
from tests.feeder.conftest import Published
from tests.simulator.inprocess import Sim

#: The watchdog's threshold: the stall test's, and the others' (long enough that a busy
#: machine never fakes a stall in them).
STALL, CALM = 0.5, 5.0


def settings(urls: list[str], **overrides: Any) -> FeederSettings:
    return FeederSettings(  # type: ignore[call-arg]
        _env_file=None,
        binance_ws_urls=tuple(urls),
        feeder_http_timeout=2,
        feeder_backoff_base=0.05,
        feeder_backoff_cap=0.2,
        **{"binance_ws_stall_seconds": CALM, **overrides},
    )


@pytest.fixture(name="start")
async def start_fixture(published: Published) -> AsyncIterator[Callable[..., Any]]:
    """Start a feed on the given URLs; it is cancelled after the test."""
    tasks: list[asyncio.Task[None]] = []

    async def start(urls: list[str], **overrides: Any) -> BinanceWsFeed:
        feed = BinanceWsFeed(settings(urls, **overrides), published.publisher, published.health)
        tasks.append(asyncio.create_task(feed.run()))
        return feed

    yield start
    for task in tasks:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def base(sim: Sim, index: int) -> str:
    return f"ws://127.0.0.1:{sim.ws_ports[index]}"


async def ticks_after(published: Published, count: int, since: int | None = None) -> None:
    """Wait for ``count`` more live ticks than there were (or than ``since``)."""
    start = len(published.ticks()) if since is None else since
    await until(lambda: len(published.ticks()) >= start + count, 10)


def largest_gap(published: Published, since: float) -> float:
    """The longest silence between BTCUSDT ticks that ended after ``since``."""
    times = published.tick_times("BTCUSDT")
    return max((b - a for a, b in zip(times, times[1:]) if b >= since), default=0.0)


def sessions(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    """``(connection, "opened"|"closed")`` as the simulator logged them, in order."""
    events = []
    for record in caplog.records:
        if record.name == "simulator.streams" and record.msg.startswith("%s opened"):
            events.append((str(record.args[0]), "opened"))  # type: ignore[index]
        elif record.name == "simulator.streams" and record.msg.startswith("%s closed"):
            events.append((str(record.args[0]), "closed"))  # type: ignore[index]
    return events


def handed_over(events: list[tuple[str, str]]) -> int:
    """How many connections closed only after the next one had opened."""
    opened = [name for name, event in events if event == "opened"]
    overlapping = 0
    for old, new in zip(opened, opened[1:]):
        if events.index((new, "opened")) < events.index((old, "closed")):
            overlapping += 1
    return overlapping


async def test_ticks_carry_the_exchanges_event_time(sim: Sim, start, published: Published):
    await start([base(sim, 0), base(sim, 1)])
    await ticks_after(published, 9)
    ticks = published.ticks()
    assert {t.instrument for t in ticks} == set(BINANCE_SYMBOLS)
    assert all(t.source == "binance" and t.transport == "binance-ws" for t in ticks)
    assert all(t.received_ts >= t.exchange_ts for t in ticks)
    assert [t.seq for t in ticks] == sorted(t.seq for t in ticks)
    await until(lambda: published.health.connected, 10)
    health = published.health
    assert health.endpoint.startswith(base(sim, 0))
    assert health.reconnects == 0 and health.malformed == 0


async def test_a_refused_endpoint_fails_over_to_the_next(sim: Sim, start, published, refused_port):
    await start([f"ws://127.0.0.1:{refused_port}", base(sim, 1)])
    await ticks_after(published, 3)
    await until(lambda: published.health.endpoint.startswith(base(sim, 1)), 10)
    assert published.health.reconnects == 0  # the first connection that delivered


async def test_a_stalled_stream_is_left_for_the_other_endpoint(sim: Sim, start, published):
    await start([base(sim, 0), base(sim, 1)], binance_ws_stall_seconds=STALL)
    await ticks_after(published, 3)
    stalled_at = asyncio.get_running_loop().time()
    await sim.simulator.inject("binance-ws", "stall", port=sim.ws_ports[0])
    await until(lambda: published.health.endpoint.startswith(base(sim, 1)), 10)
    await ticks_after(published, 3)
    health = published.health
    assert health.stalls >= 1
    assert health.reconnect_reasons["stall"] == health.stalls
    gap = largest_gap(published, stalled_at)
    print(f"stall: largest gap in ticks {gap:.2f} s (watchdog {STALL} s)")


@pytest.mark.parametrize("sim_settings", [{"sim_shutdown_grace": 1.0}])
async def test_server_shutdown_opens_the_replacement_before_the_old_one_closes(
    sim: Sim, start, published, caplog
):
    caplog.set_level(logging.INFO, logger="simulator.streams")
    await start([base(sim, 0)])
    await ticks_after(published, 3)
    injected_at = asyncio.get_running_loop().time()
    await sim.simulator.inject("binance-ws", "shutdown")
    # For the grace, every connection gets the notice: the feed moves on each time, and stays
    # on the one it has once the notices stop.
    await until(lambda: sim.state()["faults"] == [], 10)
    await until(lambda: sim.state()["connections"]["binance-ws"] == 1, 10)
    await ticks_after(published, 6)
    closed = sum(event == "closed" for _, event in sessions(caplog))
    assert closed >= 1
    assert handed_over(sessions(caplog)) == closed
    health = published.health
    assert health.reconnects == health.reconnect_reasons["serverShutdown"]
    assert health.reconnects >= 1
    assert health.stalls == 0 and health.connected
    print(f"serverShutdown: largest gap in ticks {largest_gap(published, injected_at):.2f} s")


async def test_rotation_opens_each_replacement_before_closing_the_old(
    sim: Sim, start, published, caplog
):
    caplog.set_level(logging.INFO, logger="simulator.streams")
    started_at = asyncio.get_running_loop().time()
    await start([base(sim, 0), base(sim, 1)], binance_ws_rotate_after=0.3)
    await until(lambda: published.health.reconnect_reasons["rotation"] >= 3, 15)
    await until(lambda: sum(e == "closed" for _, e in sessions(caplog)) >= 3, 10)
    closed = sum(event == "closed" for _, event in sessions(caplog))
    assert handed_over(sessions(caplog)) == closed >= 3
    print(f"rotation every 0.3 s: largest gap in ticks {largest_gap(published, started_at):.2f} s")


async def test_malformed_frames_are_counted_and_dropped_while_good_ones_flow(
    sim: Sim, start, published
):
    await start([base(sim, 0)])
    await ticks_after(published, 3)
    await sim.simulator.inject("binance-ws", "malformed")
    await until(lambda: published.health.malformed >= 8, 10)
    await ticks_after(published, 6)
    assert published.health.reconnects == 0 and published.health.connected


async def test_a_lost_connection_is_reopened_when_the_host_is_back(sim: Sim, start, published):
    await start([base(sim, 0), base(sim, 1)])
    await ticks_after(published, 3)
    await sim.simulator.inject("binance-ws", "refuse")  # both hosts: connections reset, refused
    await until(lambda: not published.health.connected, 10)
    lost = len(published.ticks())
    await sim.steps(5)
    assert len(published.ticks()) == lost
    await sim.simulator.clear()
    await ticks_after(published, 3, since=lost)
    await until(lambda: published.health.connected, 10)
    assert published.health.reconnect_reasons["lost"] == 1
