"""Feeders as real processes: simulator -> feeders -> two forwarders -> a SUB socket of ours.

What each feeder does with each fault is tested in the test's loop (test_binance_ws.py,
test_polling.py) and measured against processes by ``make bench-faults``; here the processes
prove they are wired: settings, sockets, both forwarders, heartbeats.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import pytest

from common.markets import BINANCE_SYMBOLS, COINGECKO_INSTRUMENTS, TRANSPORTS
from common.wire import Status
from harness.mesh import MeshListener
from harness.procs import ProcessGroup, wait_for
from harness.stack import start_feeder, start_forwarder, start_sim

pytestmark = pytest.mark.live


@pytest.fixture(name="listener")
def listener_fixture(procs: ProcessGroup) -> Iterator[MeshListener]:
    """Every feeder publishing through two forwarders, and a SUB socket on both."""
    sim = start_sim(procs, SIM_TICK_INTERVAL="0.1", SIM_COINGECKO_RATE_LIMIT="1000")
    forwarders = [start_forwarder(procs, f"forwarder-{n}") for n in (1, 2)]
    listener = MeshListener([f.xpub for f in forwarders])
    try:
        for transport in TRANSPORTS:
            start_feeder(procs, transport, sim, forwarders, BINANCE_REST_INTERVAL="0.5")
        yield listener
    finally:
        listener.close()


def last_status(listener: MeshListener, transport: str) -> Status | None:
    status = listener.last_status(transport)
    return status if status is not None and status.connected else None


def test_every_feeder_publishes_every_instrument_through_both_forwarders(listener):
    wait_for(
        lambda: listener.instruments("binance-ws") == set(BINANCE_SYMBOLS)
        and listener.instruments("binance-rest") == set(BINANCE_SYMBOLS)
        and listener.instruments("coingecko") == set(COINGECKO_INSTRUMENTS),
        timeout=30,
        what="every instrument from every feeder",
    )
    for transport in TRANSPORTS:
        status = wait_for(lambda t=transport: last_status(listener, t), 10, what=transport)
        assert status.source == ("coingecko" if transport == "coingecko" else "binance")
        assert status.malformed == 0 and status.endpoint
    # Both forwarders carry everything: each tick arrives once through each.
    start = time.monotonic()
    wait_for(
        lambda: len([r for r in listener.ticks("binance-ws") if r.at > start]) >= 60,
        30,
        what="60 more binance-ws ticks",
    )
    copies: dict[int, int] = {}
    for received in listener.ticks("binance-ws"):
        copies[received.message.seq] = copies.get(received.message.seq, 0) + 1
    # From the first tick both forwarders carried (the feeder connects to one, then the other)
    # to the last step's (whose second copies may be on their way).
    both = min(seq for seq, count in copies.items() if count == 2)
    assert {copies.get(seq) for seq in range(both, max(copies) - 3)} == {2}
    assert listener.undecodable == 0
    # How long from the simulator's send to our SUB socket: a figure, not a bound.
    latencies = sorted(r.at_ms - r.message.exchange_ts for r in listener.ticks("binance-ws"))
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(
        f"sim -> SUB latency over {len(latencies)} ticks: median "
        f"{statistics.median(latencies)} ms, p99 {p99} ms"
    )
    assert latencies[0] >= 0
