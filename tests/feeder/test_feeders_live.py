"""Feeders as real processes: simulator -> feeders -> two forwarders -> a test SUB socket.

Every fault is measured, not slept past: the tests time the silence in the tick stream and the
feeder's own heartbeats, and assert the recovery happened within its bound.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest

from common.markets import BINANCE_SYMBOLS, COINGECKO_INSTRUMENTS
from tests.mesh import MeshListener, largest_gap
from harness.procs import ProcessGroup, free_port, wait_for
from harness.stack import Forwarder, Sim, start_feeder, start_forwarder, start_sim

pytestmark = pytest.mark.live

TICK = 0.25  # the simulator's market step, s
STALL = 1.5  # the feeder's watchdog threshold in these tests, s
FAST_FEEDER = {
    "BINANCE_WS_STALL_SECONDS": str(STALL),
    "BINANCE_REST_INTERVAL": "0.5",
    "FEEDER_HTTP_TIMEOUT": "1",
    "FEEDER_BACKOFF_BASE": "0.1",
    "FEEDER_BACKOFF_CAP": "1",
}


@pytest.fixture(scope="module", name="mesh")
def mesh_fixture(tmp_path_factory) -> Iterator[tuple[Sim, list[Forwarder]]]:
    """A simulator and two forwarders shared by the module; faults are cleared per test."""
    group = ProcessGroup(tmp_path_factory.mktemp("mesh"))
    try:
        sim = start_sim(
            group,
            SIM_TICK_INTERVAL=str(TICK),
            SIM_SHUTDOWN_GRACE="2",
            SIM_FAULT_RETRY_AFTER="2",
            SIM_COINGECKO_CACHE_SECONDS="2",
            SIM_COINGECKO_RATE_LIMIT="1000",
        )
        forwarders = [start_forwarder(group, f"forwarder-{n}") for n in (1, 2)]
        yield sim, forwarders
    finally:
        group.stop_all()


@pytest.fixture(name="listener")
def listener_fixture(mesh) -> Iterator[MeshListener]:
    _, forwarders = mesh
    mesh_listener = MeshListener([f.xpub for f in forwarders])
    yield mesh_listener
    mesh_listener.close()
    mesh[0].clear()


def feeder(procs: ProcessGroup, mesh, transport: str, **env: str):
    sim, forwarders = mesh
    return start_feeder(procs, transport, sim, forwarders, **{**FAST_FEEDER, **env})


def first_tick_after(listener: MeshListener, transport: str, moment: float) -> float:
    """Seconds from ``moment`` to the first tick of ``transport`` after it."""
    return next(r.at for r in listener.ticks(transport) if r.at > moment) - moment


def wait_ticks(listener: MeshListener, transport: str, count: int = 3, timeout: float = 10):
    """Wait until ``count`` more ticks of ``transport`` arrived after now."""
    start = time.monotonic()
    return wait_for(
        lambda: len([r for r in listener.ticks(transport) if r.at > start]) >= count,
        timeout,
        what=f"{count} {transport} ticks",
    )


def test_every_feeder_publishes_every_instrument_through_both_forwarders(procs, mesh, listener):
    for transport in ("binance-ws", "binance-rest", "coingecko"):
        feeder(procs, mesh, transport)
    wait_for(
        lambda: listener.instruments("binance-ws") == set(BINANCE_SYMBOLS)
        and listener.instruments("binance-rest") == set(BINANCE_SYMBOLS)
        and listener.instruments("coingecko") == set(COINGECKO_INSTRUMENTS),
        timeout=10,
        what="every instrument from every feeder",
    )
    for transport in ("binance-ws", "binance-rest"):
        assert wait_status(listener, transport, lambda s: s.connected).source == "binance"
    status = wait_status(listener, "coingecko", lambda s: s.connected)
    assert status.ticks >= 6 and status.source == "coingecko" and status.malformed == 0
    # Both forwarders carry everything: each tick arrives once through each.
    copies: dict[tuple[str, int], int] = {}
    for received in listener.ticks("binance-ws"):
        key = (received.message.feeder_id, received.message.seq)
        copies[key] = copies.get(key, 0) + 1
    assert copies and max(copies.values()) == 2
    assert sum(1 for n in copies.values() if n == 2) >= len(copies) - 3
    assert listener.undecodable == 0


def test_simulator_to_subscriber_latency(procs, mesh, listener):
    feeder(procs, mesh, "binance-ws")
    wait_ticks(listener, "binance-ws", count=60, timeout=15)
    latencies = [r.at_ms - r.message.exchange_ts for r in listener.ticks("binance-ws")]
    latencies.sort()
    median = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"sim -> SUB latency over {len(latencies)} ticks: median {median} ms, p99 {p99} ms")
    assert 0 <= median <= 20
    assert p99 <= 100


def wait_status(listener: MeshListener, transport: str, check=lambda status: True, timeout=5.0):
    """The first heartbeat of ``transport`` from now on that passes ``check``."""
    start = time.monotonic()

    def probe():
        for received in reversed(listener.statuses(transport)):
            if received.at > start and check(received.message):
                return received.message
        return None

    return wait_for(probe, timeout, what=f"a {transport} heartbeat")


def port_in_use(listener: MeshListener) -> int:
    """The simulator port the websocket feeder reads from, as its heartbeat says."""
    status = wait_status(listener, "binance-ws", lambda s: s.connected and s.endpoint)
    return int(status.endpoint.split("/")[2].rsplit(":", 1)[1])


def test_a_stalled_host_is_detected_within_the_threshold_and_left(procs, mesh, listener):
    sim, _ = mesh
    feeder(procs, mesh, "binance-ws")
    wait_ticks(listener, "binance-ws")
    stalled_port = port_in_use(listener)
    injected = time.monotonic()
    sim.inject("binance-ws", "stall", port=stalled_port, seconds=30)
    wait_for(
        lambda: port_in_use(listener) != stalled_port,
        timeout=STALL + 3,
        what="reconnected to the other host",
    )
    wait_ticks(listener, "binance-ws")
    gap = largest_gap(listener.ticks("binance-ws"), since=injected - TICK)
    print(f"stall: largest gap in ticks {gap:.2f} s (threshold {STALL} s)")
    assert gap <= STALL + 1.0


def test_a_refused_host_fails_over_to_the_other(procs, mesh, listener):
    sim, _ = mesh
    dead = free_port()
    started = time.monotonic()
    feeder(
        procs,
        mesh,
        "binance-ws",
        BINANCE_WS_URLS=f"ws://127.0.0.1:{dead},ws://127.0.0.1:{sim.ws_ports[1]}",
    )
    wait_ticks(listener, "binance-ws", count=1)
    first = listener.ticks("binance-ws")[0].at - started
    print(f"refused first host: first tick {first:.2f} s after the feeder started")
    assert first <= 3.0  # interpreter start, one refused attempt, one backoff, one connect
    assert port_in_use(listener) == sim.ws_ports[1]
    # Now the host in use refuses (and resets what it had): back to the first... which is dead,
    # so the feeder keeps trying both until the fault expires.
    injected = time.monotonic()
    sim.inject("binance-ws", "refuse", port=sim.ws_ports[1], seconds=2)
    wait_status(listener, "binance-ws", lambda s: not s.connected, timeout=3)
    lost = time.monotonic()  # every tick from now on came through a new connection
    wait_for(lambda: port_in_use(listener) == sim.ws_ports[1], 10, what="back on the host")
    recovery = first_tick_after(listener, "binance-ws", lost) + lost - injected
    print(f"refused host in use for 2 s: ticks back {recovery:.2f} s after the fault began")
    # The fault's 2 s, then at worst one attempt on the dead host and one backoff (1 s cap)
    # before each try of the live one.
    assert recovery <= 2 + 2 * 1.0 + 0.5


def test_every_connection_dropped_then_back(procs, mesh, listener):
    sim, _ = mesh
    feeder(procs, mesh, "binance-ws")
    wait_ticks(listener, "binance-ws")
    injected = time.monotonic()
    sim.inject("binance-ws", "drop", seconds=2)
    wait_status(listener, "binance-ws", lambda s: not s.connected, timeout=3)
    lost = time.monotonic()  # every tick from now on came through a new connection
    noticed = lost - injected
    wait_ticks(listener, "binance-ws", count=1, timeout=10)
    back = first_tick_after(listener, "binance-ws", lost) + noticed
    print(f"drop for 2 s: noticed after {noticed:.2f} s, ticks back after {back:.2f} s")
    assert noticed <= 1.5  # the next heartbeat says so
    assert back <= 2 + 1.5  # the fault, then at most one capped backoff


def test_rotation_opens_the_new_connection_before_closing_the_old(procs, mesh, listener):
    feeder(procs, mesh, "binance-ws", BINANCE_WS_ROTATE_AFTER="2")
    wait_ticks(listener, "binance-ws")
    since = time.monotonic()
    wait_status(listener, "binance-ws", lambda s: s.reconnects >= 3, timeout=12)
    for symbol in BINANCE_SYMBOLS:
        ticks = [r for r in listener.ticks("binance-ws") if r.message.instrument == symbol]
        gap = largest_gap(ticks, since=since)
        print(f"rotation: largest gap in {symbol} ticks {gap:.2f} s (market step {TICK} s)")
        assert gap <= TICK * 2.5


def test_server_shutdown_moves_to_a_new_connection_without_a_gap(procs, mesh, listener):
    sim, _ = mesh
    feeder(procs, mesh, "binance-ws")
    before = wait_status(listener, "binance-ws", lambda s: s.connected).reconnects
    injected = time.monotonic()
    sim.inject("binance-ws", "shutdown")
    wait_status(listener, "binance-ws", lambda s: s.reconnects > before, timeout=3)
    replaced = time.monotonic() - injected
    wait_ticks(listener, "binance-ws", count=12)
    gap = largest_gap(listener.ticks("binance-ws"), since=injected)
    print(f"serverShutdown: replaced within {replaced:.2f} s, largest gap {gap:.2f} s")
    assert replaced <= 1.5  # the grace is 2 s: the new connection is up before the old closes
    assert gap <= TICK * 2.5


def test_malformed_frames_are_dropped_while_good_ones_keep_flowing(procs, mesh, listener):
    sim, _ = mesh
    feeder(procs, mesh, "binance-ws")
    malformed_before = wait_status(listener, "binance-ws", lambda s: s.connected).malformed
    injected = time.monotonic()
    sim.inject("binance-ws", "malformed", seconds=3)
    status = wait_status(listener, "binance-ws", lambda s: s.sent_ts > 0, timeout=5)
    while time.monotonic() - injected < 3.2:
        status = wait_status(listener, "binance-ws")
    gap = largest_gap(listener.ticks("binance-ws"), since=injected)
    print(f"malformed: {status.malformed - malformed_before} dropped, largest gap {gap:.2f} s")
    assert status.malformed - malformed_before >= 5
    assert status.reconnects == 0 and status.connected
    assert gap <= TICK * 2.5
    assert listener.undecodable == 0


@pytest.mark.parametrize("transport", ["binance-rest", "coingecko"])
def test_429_is_honoured_through_retry_after(procs, mesh, listener, transport):
    sim, _ = mesh
    extra = {"COINGECKO_INTERVAL": "0.5"} if transport == "coingecko" else {}
    feeder(procs, mesh, transport, **extra)
    wait_ticks(listener, transport)
    served_before = sim.state()["frames_sent"][transport]
    injected = time.monotonic()
    sim.inject(transport, "429", seconds=2)
    wait_status(listener, transport, lambda s: not s.connected, timeout=3)
    limited = time.monotonic()  # a 429 came back: ticks from now on came after it
    wait_ticks(listener, transport, count=1, timeout=8)
    back = first_tick_after(listener, transport, limited) + limited - injected
    answered = sim.state()["frames_sent"][transport] - served_before
    print(f"{transport} 429 for 2 s: back after {back:.2f} s, {answered} answers meanwhile")
    assert back >= 1.5  # it waited for Retry-After, not its usual 0.5 s interval
    assert back <= 2 + 2.0


@pytest.mark.parametrize("fault", ["5xx", "hang", "malformed"])
def test_rest_failures_recover(procs, mesh, listener, fault):
    sim, _ = mesh
    feeder(procs, mesh, "binance-rest")
    malformed_before = wait_status(listener, "binance-rest", lambda s: s.connected).malformed
    injected = time.monotonic()
    sim.inject("binance-rest", fault, seconds=2)
    wait_for(lambda: time.monotonic() - injected > 2, 3)
    wait_ticks(listener, "binance-rest", count=1, timeout=8)
    back = first_tick_after(listener, "binance-rest", injected + 2)
    status = wait_status(listener, "binance-rest")
    print(f"binance-rest {fault} for 2 s: ticks back {back:.2f} s after the fault ended")
    assert back <= 2.0  # one backoff (1 s cap) or timeout (1 s), then one poll
    if fault == "malformed":
        assert status.malformed > malformed_before
    assert procs.processes[-1].alive()
