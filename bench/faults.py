"""How the feeders ride out each exchange fault, measured against real processes.

``python -m bench.faults`` (``make bench-faults``)

A simulator (one market step every 0.25 s), two forwarders and a SUB socket of our own on both;
for each fault, a fresh feeder process with short timers (watchdog 1.5 s, backoff 0.1-1 s, HTTP
timeout 1 s), the fault injected through the simulator's control API, and the tick stream timed
as the SUB socket saw it. One line per fault: the figures of the README's fault-tolerance
table. The suite checks the same behaviours without timing them (tests/feeder/).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common.markets import BINANCE_SYMBOLS, BINANCE_WS
from common.wire import Status
from harness.mesh import MeshListener, largest_gap
from harness.ports import refusing_port
from harness.procs import ProcessGroup, wait_for
from harness.stack import Forwarder, Sim, start_feeder, start_forwarder, start_sim

TICK = 0.25  # the simulator's market step, s
STALL = 1.5  # the feeder's watchdog threshold, s
FEEDER = {
    "BINANCE_WS_STALL_SECONDS": str(STALL),
    "BINANCE_REST_INTERVAL": "0.5",
    "FEEDER_HTTP_TIMEOUT": "1",
    "FEEDER_BACKOFF_BASE": "0.1",
    "FEEDER_BACKOFF_CAP": "1",
}


class Bench:
    """The shared simulator and forwarders, a listener, and a feeder per measurement."""

    def __init__(self, group: ProcessGroup, sim: Sim, forwarders: list[Forwarder]) -> None:
        self.group = group
        self.sim = sim
        self.forwarders = forwarders
        self.listener = MeshListener([f.xpub for f in forwarders])

    def feeder(self, transport: str, **env: str) -> None:
        start_feeder(self.group, transport, self.sim, self.forwarders, **{**FEEDER, **env})

    def ticks(self, transport: str, count: int = 3, timeout: float = 15) -> None:
        """Wait for ``count`` more ticks of ``transport`` from now."""
        start = time.monotonic()
        wait_for(
            lambda: len([r for r in self.listener.ticks(transport) if r.at > start]) >= count,
            timeout,
            what=f"{count} {transport} ticks",
        )

    def first_tick_after(self, transport: str, moment: float) -> float:
        """Seconds from ``moment`` to the first tick of ``transport`` after it."""
        return next(r.at for r in self.listener.ticks(transport) if r.at > moment) - moment

    def status(
        self, transport: str, check: Callable[[Status], object] = bool, timeout: float = 10
    ) -> Status:
        """The first heartbeat of ``transport`` from now on that passes ``check``."""
        start = time.monotonic()

        def probe() -> Status | None:
            for received in reversed(self.listener.statuses(transport)):
                if received.at > start and check(received.message):
                    return received.message
            return None

        return wait_for(probe, timeout, what=f"a {transport} heartbeat")

    def outage(self, transport: str, fault: str, **extra: object) -> tuple[float, float]:
        """``fault`` for 2 s: seconds until the feeder said it lost the exchange, and until a
        tick came through a new connection."""
        injected = time.monotonic()
        self.sim.inject(transport, fault, seconds=2, **extra)
        self.status(transport, lambda s: not s.connected)
        lost = time.monotonic()
        self.ticks(transport, count=1)
        return lost - injected, self.first_tick_after(transport, lost) + lost - injected

    def fault_over(self) -> None:
        """Wait until the simulator has no fault in force."""
        wait_for(lambda: self.sim.state()["faults"] == [], 30, what="the fault over")

    def port_in_use(self) -> int:
        status = self.status(BINANCE_WS, lambda s: s.connected and s.endpoint)
        return int(status.endpoint.split("/")[2].rsplit(":", 1)[1])

    def stop_feeders(self) -> None:
        for process in self.group.processes:
            if process.name.startswith("feeder-"):
                process.stop()
        self.sim.clear()


def stall(bench: Bench) -> str:
    """The host in use stalls: how long the tick stream goes silent."""
    bench.feeder(BINANCE_WS)
    bench.ticks(BINANCE_WS)
    stalled = bench.port_in_use()
    injected = time.monotonic()
    bench.sim.inject(BINANCE_WS, "stall", port=stalled, seconds=30)
    wait_for(lambda: bench.port_in_use() != stalled, STALL + 10, what="the other host")
    bench.ticks(BINANCE_WS)
    gap = largest_gap(bench.listener.ticks(BINANCE_WS), since=injected - TICK)
    return f"one host stalls: largest gap in ticks {gap:.2f} s (watchdog {STALL} s)"


def refused(bench: Bench) -> str:
    """A refused first host, then the host in use refusing for 2 s."""
    with refusing_port() as dead:
        started = time.monotonic()
        hosts = f"ws://127.0.0.1:{dead},ws://127.0.0.1:{bench.sim.ws_ports[1]}"
        bench.feeder(BINANCE_WS, BINANCE_WS_URLS=hosts)
        bench.ticks(BINANCE_WS, count=1)
        first = bench.first_tick_after(BINANCE_WS, started)
        _, back = bench.outage(BINANCE_WS, "refuse", port=bench.sim.ws_ports[1])
    return (
        f"first host refuses: first tick {first:.2f} s after the feeder started; "
        f"the host in use refuses for 2 s: ticks back {back:.2f} s after the fault began"
    )


def dropped(bench: Bench) -> str:
    """Every connection reset for 2 s: when noticed, when ticks are back."""
    bench.feeder(BINANCE_WS)
    bench.ticks(BINANCE_WS)
    noticed, back = bench.outage(BINANCE_WS, "drop")
    return f"every connection dropped for 2 s: noticed in {noticed:.2f} s, back {back:.2f} s"


def rotation(bench: Bench) -> str:
    """A new connection every 2 s: the largest gap in each symbol's ticks."""
    bench.feeder(BINANCE_WS, BINANCE_WS_ROTATE_AFTER="2")
    bench.ticks(BINANCE_WS)
    since = time.monotonic()
    bench.status(BINANCE_WS, lambda s: s.reconnects >= 3, timeout=15)
    gaps = [
        largest_gap(
            [r for r in bench.listener.ticks(BINANCE_WS) if r.message.instrument == s], since
        )
        for s in BINANCE_SYMBOLS
    ]
    return f"rotation every 2 s: largest gap in a symbol's ticks {max(gaps):.2f} s (step {TICK} s)"


def shutdown(bench: Bench) -> str:
    """serverShutdown: how soon the replacement, the largest gap."""
    bench.feeder(BINANCE_WS)
    before = bench.status(BINANCE_WS, lambda s: s.connected).reconnects
    injected = time.monotonic()
    bench.sim.inject(BINANCE_WS, "shutdown")
    bench.status(BINANCE_WS, lambda s: s.reconnects > before)
    replaced = time.monotonic() - injected
    bench.ticks(BINANCE_WS, count=12)
    gap = largest_gap(bench.listener.ticks(BINANCE_WS), since=injected - TICK)
    return f"serverShutdown: replaced within {replaced:.2f} s, largest gap {gap:.2f} s"


def malformed(bench: Bench) -> str:
    """Malformed frames for 3 s: how many dropped, the largest gap."""
    bench.feeder(BINANCE_WS)
    dropped_before = bench.status(BINANCE_WS, lambda s: s.connected).malformed
    injected = time.monotonic()
    bench.sim.inject(BINANCE_WS, "malformed", seconds=3)
    bench.fault_over()
    status = bench.status(BINANCE_WS)
    gap = largest_gap(bench.listener.ticks(BINANCE_WS), since=injected - TICK)
    return (
        f"malformed frames for 3 s: {status.malformed - dropped_before} dropped, largest gap "
        f"{gap:.2f} s, {status.reconnects} reconnects, "
        f"{bench.listener.undecodable} undecodable downstream"
    )


def too_many_requests(bench: Bench) -> str:
    """429 for 2 s on each REST feeder: when ticks are back."""
    lines = []
    for transport in ("binance-rest", "coingecko"):
        bench.feeder(transport, COINGECKO_INTERVAL="0.5")
        bench.ticks(transport)
        _, back = bench.outage(transport, "429")
        lines.append(f"{transport} {back:.2f} s")
        bench.stop_feeders()
    return "429 for 2 s with Retry-After: back after " + ", ".join(lines)


def rest_failures(bench: Bench) -> str:
    """binance-rest failing three ways for 2 s: ticks back after the fault."""
    lines = []
    for fault in ("5xx", "hang", "malformed"):
        bench.feeder("binance-rest")
        bench.ticks("binance-rest")
        bench.sim.inject("binance-rest", fault, seconds=2)
        bench.fault_over()
        ends = time.monotonic()
        bench.ticks("binance-rest", count=1)
        lines.append(f"{fault} {bench.first_tick_after('binance-rest', ends):.2f} s")
        bench.stop_feeders()
    return "binance-rest failing for 2 s: ticks back after the fault ended: " + ", ".join(lines)


MEASUREMENTS = (
    stall,
    refused,
    dropped,
    rotation,
    shutdown,
    malformed,
    too_many_requests,
    rest_failures,
)


def main() -> None:
    """Measure every fault in turn and print the figures."""
    with tempfile.TemporaryDirectory() as workdir:
        group = ProcessGroup(Path(workdir))
        bench = None
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
            bench = Bench(group, sim, forwarders)
            for measure in MEASUREMENTS:
                print(measure(bench), flush=True)
                bench.stop_feeders()
        finally:
            if bench is not None:
                bench.listener.close()
            group.stop_all()


if __name__ == "__main__":
    main()
