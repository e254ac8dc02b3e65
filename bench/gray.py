"""Gray failures through HAProxy, measured: the README's "Gray failures" table.

``python -m bench.gray`` (``make bench-gray``)

For the cache on, then off: the demo stack; a steady wrk load (8 connections, each pausing
10 ms between requests; with the cache off each request unique, so it reaches a replica) for
16 s with no fault (the baseline), then once per fault, the fault on from the 2nd second to the
12th: a gateway frozen (SIGSTOP), a gateway answering 500 ms late, a forwarder, the binance-ws
feeder, PostgreSQL (the postmaster and every backend) frozen. One line per run: requests,
failed, p50/p99/max latency, and for a replica when HAProxy took it out of rotation and put it
back (from its stats page, polled every 20 ms). The suite checks the same faults
(tests/haproxy/test_gray_live.py).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from harness.gray import ServerStates, descendants, frozen, slowed
from harness.procs import ProcessGroup, wait_for
from harness.stack import Demo, remove_private_cluster, start_demo
from harness.wrk import SteadyLoad

PASSWORD = "bench-password"
BEFORE, FAULT, AFTER = 2.0, 10.0, 4.0

Fault = Callable[[], AbstractContextManager[object]]


def faults(demo: Demo) -> dict[str, Fault]:
    """Each fault by the name of its row; the pids are read at the fault's start."""
    replica = f"http://127.0.0.1:{demo.gateway_ports[0]}"
    return {
        "no fault": contextlib.nullcontext,
        "gateway-1 frozen": lambda: frozen([demo.pid("gateway-1")]),
        "gateway-1 answering 500 ms late": lambda: slowed(replica, 500),
        "forwarder-1 frozen": lambda: frozen([demo.pid("forwarder-1")]),
        "feeder-binance-ws frozen": lambda: frozen([demo.pid("feeder-binance-ws")]),
        "PostgreSQL frozen": lambda: frozen(descendants(demo.pid("postgres"))),
    }


def measure(demo: Demo, states: ServerStates, cache: str, fault: Fault, workdir: Path) -> str:
    """One run under load with ``fault`` on in its middle; its figures."""
    wait_for(lambda: all(states.status(f"gateway-{n}") == "UP" for n in (1, 2)), 30, what="both up")
    load = SteadyLoad(
        f"{demo.api}/api/v1/courses",
        int(BEFORE + FAULT + AFTER),
        workdir,
        bust_cache=cache == "off",
    )
    try:
        threading.Event().wait(BEFORE)
        injected = fault()  # the pids read now, before the clock starts
        began = time.monotonic()
        with injected:
            threading.Event().wait(FAULT - (time.monotonic() - began))
        ended = time.monotonic()
        figures = load.figures()
    finally:
        load.stop()
    line = str(figures)
    out = states.first("gateway-1", "DOWN", began)
    if out is not None:
        back = wait_for(lambda: states.back_up("gateway-1", began), 10, what="gateway-1 back")
        line += f"; out of rotation {out - began:.2f} s, back {back - ended:.2f} s"
    return line


def bench(cache: str, workdir: Path) -> None:
    """Every run against one demo stack with the cache ``cache``."""
    group = ProcessGroup(workdir)
    try:
        demo = start_demo(
            group,
            workdir / "run",
            HAPROXY_CACHE=cache,
            GATEWAY_FAULT_INJECTION="true",
            HAPROXY_STATS_PASSWORD=PASSWORD,
        )
        states = ServerStates(demo.stats, ("admin", PASSWORD), "gateways")
        try:
            for name, fault in faults(demo).items():
                print(f"cache {cache:3} | {name}: {measure(demo, states, cache, fault, workdir)}")
        finally:
            states.stop()
    finally:
        group.stop_all()
        remove_private_cluster(workdir / "run")


def main() -> None:
    """The runs for each cache setting asked for (both by default)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", choices=("on", "off"), nargs="+", default=["on", "off"])
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-gray-") as folder:
        for cache in arguments.cache:
            workdir = Path(folder) / cache
            workdir.mkdir()
            bench(cache, workdir)


if __name__ == "__main__":
    main()
