"""The courses stream through HAProxy: a curve of delivery, lag and gateway memory per stream
at 1,000 / 4,000 / 8,000 concurrent streams, and REST throughput with streams open.

``python -m bench.stream [--streams 1000 4000 8000] [--seconds 60] [--workers 2]``
(``make bench-stream``)

The demo stack runs (simulator ticking every SIM_TICK_INTERVAL s, mesh, two gateways,
PostgreSQL, HAProxy) with the load generator (:mod:`bench.stream_clients`, ``--workers``
processes) on the same two cores. For each level: both gateways restarted (fresh memory), their
RSS read, the streams opened through HAProxy (``GET /api/v1/courses/stream``, every stream the
same query), the RSS read again (memory per stream = the difference / streams), then
``--seconds`` of recording: every change's event counted per stream, every event's lag (from
the gateway's change of its pricings, written in the event, to the client's receipt), streams
dropped. At the REST level (4,000), wrk loads ``GET /api/v1/courses`` through the same HAProxy
while the streams are open, against the same wrk run with none.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import tempfile
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

from bench.stream_clients import run as run_worker
from bench.wrk import WrkResult, run_wrk
from harness.procs import ProcessGroup, wait_for
from harness.stack import Demo, remove_private_cluster, start_demo

STREAM = "/api/v1/courses/stream"
GATEWAYS = ("gateway-1", "gateway-2")
#: Changes whose event may still be in flight when recording stops are not counted.
TAIL_MS = 5000.0


@dataclass
class Level:
    """What one level of streams measured."""

    streams: int
    opened: int
    #: (events received in the window, clients that received exactly those), largest first
    groups: list[tuple[int, int]]
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    dropped: int
    memory_per_stream_kib: float
    rest: WrkResult | None = None
    rest_before: WrkResult | None = None
    #: component -> cores used while recording (CPU seconds per second)
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> int:
        """Clients in the groups of the replicas: the largest two, each holding at least a
        quarter of the clients (leastconn gives each replica half): every change reached them.
        A client that missed or doubled an event has a digest of its own."""
        return sum(
            clients for _, clients in self.groups[: len(GATEWAYS)] if clients >= self.opened / 4
        )


def rss_kib(pid: int) -> int:
    """A process's resident memory, KiB."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU time a process and its waited-for children used so far (user + system)."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """A process's children (HAProxy's master runs one worker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def component_pids(demo: Demo, workers: Workers) -> dict[str, list[int]]:
    """The processes whose CPU time the curve reports."""
    haproxy = demo.pid("haproxy")
    return {
        "gateways": [demo.pid(name) for name in GATEWAYS],
        "haproxy": [haproxy, *children(haproxy)],
        "load generator": [process.pid for process in workers.processes if process.pid],
    }


class CpuMeter:
    """Cores each component used since the meter was made."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.since = time.monotonic()
        self.start = self._seconds()

    def _seconds(self) -> dict[str, float]:
        return {name: sum(map(cpu_seconds, group)) for name, group in self.pids.items()}

    def cores(self) -> dict[str, float]:
        elapsed = time.monotonic() - self.since
        return {name: (used - self.start[name]) / elapsed for name, used in self._seconds().items()}


def gateways_rss(demo: Demo) -> int:
    """Both replicas' resident memory, KiB."""
    return sum(rss_kib(demo.pid(name)) for name in GATEWAYS)


def both_up(demo: Demo) -> bool:
    """HAProxy sends to both replicas (its stats page)."""
    auth = ("admin", demo.env["HAPROXY_STATS_PASSWORD"])
    rows = httpx.get(f"{demo.stats}/;csv", auth=auth, timeout=5).text.splitlines()
    up = [row for row in rows if row.startswith("gateways,gateway-") and ",UP," in row]
    return len(up) == 2


class Workers:
    """The load generator's processes, driven over pipes."""

    def __init__(self, count: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.processes = []
        for _ in range(count):
            parent, child = context.Pipe()
            process = context.Process(target=run_worker, args=(child,), daemon=True)
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def ask(self, *command: Any, timeout: float = 120.0) -> list[tuple[Any, ...]]:
        """Send every worker ``command``; their answers."""
        for pipe in self.pipes:
            pipe.send(command)
        answers = []
        for pipe in self.pipes:
            if not pipe.poll(timeout):
                raise TimeoutError(f"a worker did not answer {command[0]!r}")
            answers.append(pipe.recv())
        return answers

    def open(self, ports: list[int], streams: int) -> None:
        """``streams`` in all, shared by the workers; worker N connects to ports[N % len]."""
        share = [streams // len(self.pipes)] * len(self.pipes)
        share[0] += streams - sum(share)
        for number, (pipe, count) in enumerate(zip(self.pipes, share)):
            pipe.send(("open", "127.0.0.1", ports[number % len(ports)], STREAM, count))
        for pipe in self.pipes:
            pipe.recv()

    def started(self) -> tuple[int, int]:
        """(streams with their first event, refused or cut before it)."""
        answers = self.ask("status")
        return sum(a[1] for a in answers), sum(a[2] for a in answers)

    def exit(self) -> None:
        """Stop every worker (one that died already is fine)."""
        for pipe in self.pipes:
            try:
                pipe.send(("exit",))
            except OSError:
                pass
        for process in self.processes:
            process.join(10)
            if process.is_alive():
                process.kill()


@dataclass
class Received:
    """What the workers reported of one window."""

    #: (events, digest of their ids) -> clients that received exactly those
    received: Counter[tuple[int, int]]
    lags_ms: list[float]
    dropped: int


def collect(answers: list[tuple[Any, ...]]) -> Received:
    """The workers' reports of one window, merged."""
    received: Counter[tuple[int, int]] = Counter()
    lags = array("f")
    dropped = 0
    for _, worker_received, lag_bytes, worker_dropped in answers:
        received.update(worker_received)
        lags.frombytes(lag_bytes)
        dropped += worker_dropped
    return Received(received, sorted(lags), dropped)


def open_streams(demo: Demo, workers: Workers, streams: int, direct: bool) -> int:
    """Open ``streams`` through HAProxy (or ``direct`` to the replicas' stream ports, one
    worker per replica); how many got their first event."""
    if direct:
        workers.open(json.loads(demo.env["STACK_GATEWAY_STREAM_PORTS"]), streams)
    else:
        workers.open([int(demo.env["STACK_HAPROXY_PORT"])], streams)
    deadline = time.monotonic() + 120
    while (counts := workers.started())[0] + counts[1] < streams:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {counts[0]} of {streams} streams started")
        time.sleep(0.5)
    return counts[0]


def measure_level(demo: Demo, workers: Workers, streams: int, args: argparse.Namespace) -> Level:
    """One point of the curve (with wrk before and while the streams are open at the REST
    level)."""
    rest_seconds = args.rest_seconds if streams == args.rest_streams else 0
    demo.ctl("restart", *GATEWAYS)
    wait_for(lambda: both_up(demo), 60, what="both gateways back in HAProxy's rotation")
    time.sleep(2)  # settled: warm start done, first repricings made
    rss = gateways_rss(demo)
    rest_before = run_wrk(f"{demo.api}/api/v1/courses", rest_seconds) if rest_seconds else None
    opened = open_streams(demo, workers, streams, args.direct)
    rss = gateways_rss(demo) - rss
    start_ms = time.time() * 1000 + 500
    end_ms = start_ms + args.seconds * 1000
    workers.ask("record", start_ms, end_ms)
    meter = CpuMeter(component_pids(demo, workers))
    rest = run_wrk(f"{demo.api}/api/v1/courses", rest_seconds) if rest_seconds else None
    # Until the window's last change has had time to arrive everywhere.
    time.sleep(max(0.0, (end_ms + TAIL_MS) / 1000 - time.time()))
    cpu = meter.cores()
    got = collect(workers.ask("stop"))
    workers.ask("close")
    lags = got.lags_ms or [float("nan")]
    return Level(
        streams=streams,
        opened=opened,
        # Every client of one replica received the same events: one group per replica.
        groups=[(count, clients) for (count, _), clients in got.received.most_common()],
        lag_p50_ms=statistics.median(lags),
        lag_p99_ms=lags[int(len(lags) * 0.99)],
        lag_max_ms=lags[-1],
        dropped=got.dropped,
        memory_per_stream_kib=rss / max(opened, 1),
        rest=rest,
        rest_before=rest_before,
        cpu=cpu,
    )


def arguments() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, nargs="+", default=[1000, 4000, 8000])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rest-streams", type=int, default=4000)
    parser.add_argument("--rest-seconds", type=int, default=10)
    #: The demo's own pace (one tick per instrument per second), as Binance's streams send.
    #: To compare: the replicas' stream ports directly, without HAProxy.
    parser.add_argument("--direct", action="store_true")
    parser.add_argument("--tick-interval", type=float, default=1.0)
    return parser.parse_args()


def main() -> None:
    """Measure and print."""
    args = arguments()
    levels: list[Level] = []
    with tempfile.TemporaryDirectory() as workdir:
        group = ProcessGroup(Path(workdir))
        workers = Workers(args.workers)
        try:
            demo = start_demo(
                group,
                Path(workdir) / "run",
                LOG_LEVEL="WARNING",
                SIM_TICK_INTERVAL=str(args.tick_interval),
            )
            for streams in args.streams:
                levels.append(measure_level(demo, workers, streams, args))
                print(levels[-1], flush=True)
        finally:
            group.stop_all()
            remove_private_cluster(Path(workdir) / "run")
            workers.exit()
    report(levels, args)


def report(levels: list[Level], args: argparse.Namespace) -> None:
    """The curve as a Markdown table, and the REST ratio."""
    print(
        f"\nthrough HAProxy, {args.seconds:.0f} s per level, simulator ticking every "
        f"{args.tick_interval} s, {args.workers} load processes; load "
        f"{os.getloadavg()[0]:.2f} at the end"
    )
    print(
        "| streams | opened | events per replica | got every one | lag p50 | lag p99 | lag max "
        "| dropped | gateway memory / stream | cores: gateways / HAProxy / load generator |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for level in levels:
        events = " / ".join(str(count) for count, _ in level.groups[: len(GATEWAYS)])
        print(
            f"| {level.streams:,} | {level.opened:,} | {events} | "
            f"{level.complete:,} | {level.lag_p50_ms:.0f} ms | {level.lag_p99_ms:.0f} ms | "
            f"{level.lag_max_ms:.0f} ms | {level.dropped} | "
            f"{level.memory_per_stream_kib:.1f} KiB | "
            + " / ".join(f"{cores:.2f}" for cores in level.cpu.values())
            + " |"
        )
    for level in levels:
        if level.rest is not None and level.rest_before is not None:
            before = level.rest_before.requests_per_second
            ratio = level.rest.requests_per_second / before
            print(
                f"\nREST through HAProxy (wrk -t1 -c64 -d{args.rest_seconds}s): "
                f"{before:,.0f} req/s without streams, "
                f"{level.rest.requests_per_second:,.0f} with {level.streams:,} open "
                f"({ratio:.2f} of it)"
            )


if __name__ == "__main__":
    main()
