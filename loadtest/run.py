"""A load test of the whole native stack through HAProxy, with locust, optionally under faults.

``python -m loadtest.run [--duration 60] [--users 1600] [--user-rps 1] [--cache on|off]
[--faults] [--streamers N] [--name NAME]`` (``make bench``)

It starts the stack as ``make demo`` does (simulator, two forwarders, feeders, PostgreSQL, two
gateways, HAProxy) on free ports, runs locust headless for the duration, and writes locust's CSV
and HTML reports to ``loadtest/results/NAME*``. With ``--faults``, while the load runs: Binance
is cut for 20 s (the simulator stalls its websocket streams and fails its REST API) from 15 s
in, and gateway-1 is killed with SIGKILL at 30 s (supervisord restarts it). It prints
requests/s, p50/p95/p99 and failures, and exits 1 when any request failed.

With ``--streamers N``, N clients hold the courses stream open besides the users (the
locustfile's ``Streamer``): their events are reported apart (events, failures, lag p50/p99,
reconnections), so the REST figures stay those of the REST requests alone, and so is the CPU
locust used.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.stream import GATEWAYS, CpuMeter, children
from harness.procs import ProcessGroup, wait_for
from harness.stack import Demo, remove_private_cluster, start_demo

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LOCUST = Path(sys.executable).parent / "locust"
WINDOW = 10  # seconds: the history's whole-second stamps make shorter windows jitter


def arguments() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    # Each user stands for an exchanger's service polling 17 times a second: 100 of them offer
    # 1,700 requests a second. (Thousands of 1-a-second users would load locust's own
    # scheduler, on the same two cores, more than the service.)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--spawn-rate", type=float, default=100)
    parser.add_argument("--user-rps", type=float, default=17.0, help="0: as fast as possible")
    parser.add_argument("--cache", choices=("on", "off"), default="on")
    parser.add_argument("--faults", action="store_true", help="cut Binance, kill a replica")
    parser.add_argument("--name", default="", help="report name (default from the options)")
    parser.add_argument(
        "--processes", type=int, default=1, help="locust worker processes (-1: one per core)"
    )
    parser.add_argument(
        "--streamers", type=int, default=0, help="clients holding the courses stream open too"
    )
    return parser.parse_args()


def schedule_faults(demo: Demo, started: float, timeline: list[str]) -> list[threading.Timer]:
    """Binance cut for 20 s from 15 s in; gateway-1 killed at 30 s."""

    def cut_binance() -> None:
        demo.sim.inject("binance-ws", "stall", seconds=20)
        demo.sim.inject("binance-rest", "5xx", seconds=20)
        timeline.append(f"{time.monotonic() - started:5.1f} s  Binance cut for 20 s")

    def kill_replica() -> None:
        pid = demo.pid("gateway-1")
        subprocess.run(["kill", "-9", str(pid)], check=True)
        timeline.append(f"{time.monotonic() - started:5.1f} s  gateway-1 (pid {pid}) SIGKILLed")

    timers = [threading.Timer(15, cut_binance), threading.Timer(30, kill_replica)]
    for timer in timers:
        timer.start()
    return timers


Counts = dict[str, float]


def replica_stats(demo: Demo) -> list[dict[str, str]]:
    """HAProxy's stats row of every gateway replica."""
    stats = httpx.get(f"{demo.stats}/;csv", auth=("admin", "test-password"), timeout=5)
    rows = csv.DictReader(io.StringIO(stats.text.lstrip("# ")))
    return [
        row for row in rows if row["pxname"] == "gateways" and row["svname"].startswith("gateway-")
    ]


def whole_service(demo: Demo) -> bool:
    """HAProxy sends traffic to every replica, and every replica serves every direction fresh:
    a run starts with the whole service, not with its start-up."""
    try:
        rows = replica_stats(demo)
        answers = [
            httpx.get(f"http://127.0.0.1:{port}/api/v1/courses", timeout=2)
            for port in demo.gateway_ports
        ]
    except httpx.HTTPError:
        return False
    return (
        len(rows) == len(demo.gateway_ports)
        and all(row["status"] == "UP" for row in rows)
        and all(answer.status_code == 200 for answer in answers)
        and not any(course["stale"] for answer in answers for course in answer.json()["courses"])
    )


def haproxy_counts(demo: Demo) -> Counts:
    """Per replica, from HAProxy's stats: times marked down, retries and redispatches."""
    counts: Counts = {}
    for row in replica_stats(demo):
        for field in ("chkdown", "wretr", "wredis"):
            counts[f"{row['svname']} {field}"] = float(row[field] or 0)
    return counts


def source_switches(demo: Demo) -> Counts:
    """gateway-2's source switches, summed over directions, by (from -> to)."""
    port = demo.gateway_ports[1]
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    switches: Counts = {}
    for line in metrics.splitlines():
        if line.startswith("rates_source_switches_total{"):
            labels, value = line.rsplit(" ", 1)
            pair = labels.split('from="')[1].split('"')[0] + " -> "
            pair += labels.split('to="')[1].split('"')[0]
            switches[pair] = switches.get(pair, 0) + float(value)
    return switches


def evidence(demo: Demo) -> tuple[Counts, Counts]:
    """What HAProxy and gateway-2 have counted so far."""
    return haproxy_counts(demo), source_switches(demo)


def fault_evidence(before: tuple[Counts, Counts], after: tuple[Counts, Counts]) -> list[str]:
    """What the faults did during the load, as HAProxy and gateway-2 saw them (start-up, when
    the replicas were not ready yet and no direction had a source, is left out)."""
    (haproxy_before, switches_before), (haproxy_after, switches_after) = before, after
    grown = {key: value - haproxy_before.get(key, 0) for key, value in haproxy_after.items()}
    replicas = sorted({key.split(" ")[0] for key in grown})
    lines = [
        f"HAProxy: {name} marked down {grown[f'{name} chkdown']:.0f} time(s), "
        f"{grown[f'{name} wretr']:.0f} retries, {grown[f'{name} wredis']:.0f} redispatches"
        for name in replicas
    ]
    switches = {
        pair: count - switches_before.get(pair, 0)
        for pair, count in sorted(switches_after.items())
        if count > switches_before.get(pair, 0)
    }
    lines.append(
        "gateway-2's directions switched: "
        + (", ".join(f"{pair}: {count:.0f}" for pair, count in switches.items()) or "never")
    )
    return lines


def locust_command(args: argparse.Namespace, host: str, prefix: Path) -> list[str]:
    return [
        str(LOCUST),
        "-f",
        str(HERE / "locustfile.py"),
        "--headless",
        "--users",
        # The streamers are locust users too (a fixed count of them, spawned first).
        str(args.users + args.streamers),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        f"{args.duration}s",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--csv-full-history",
        "--html",
        f"{prefix}.html",
        "--only-summary",
        "--stop-timeout",
        "5",
        "--loglevel",
        "WARNING",
        *(["--processes", str(args.processes)] if args.processes != 1 else []),
    ]


Entry = dict[str, Any]
#: The request type of the streamers' events in locust's statistics (the locustfile's).
SSE = "SSE"
#: The streamers' rows of a shape's first event on each connection: timed from connecting.
FIRST = " (first)"


@dataclass(frozen=True)
class Figures:
    """A group of locust's entries summed: counts, rates and response-time percentiles."""

    requests: int
    failures: int
    rps: float
    #: per-second rates over every 10-second window after the ramp-up
    windows: list[float]
    p50: float
    p95: float
    p99: float


def percentile(histogram: Counter[int], fraction: float) -> float:
    """locust's own percentile of a response-time histogram (its rounded times, counted):
    ``locust.stats.calculate_response_time_percentile``, restated because importing locust
    would monkey-patch this process with gevent (locust runs in a process of its own)."""
    total = sum(histogram.values())
    counted = 0
    for milliseconds in sorted(histogram, reverse=True):
        counted += histogram[milliseconds]
        if total - counted <= int(total * fraction):
            return float(milliseconds)
    return 0.0


def windows(per_second: Counter[int], ramp: float) -> list[float]:
    """Requests a second over every whole ``WINDOW`` after the ramp-up (locust's own rate
    column is smoothed); the last second, partial, is left out."""
    if not per_second:
        return []
    first, last = min(per_second), max(per_second)
    starts = range(first + int(ramp) + 1, last - WINDOW + 1)
    return [sum(per_second[s + i] for i in range(WINDOW)) / WINDOW for s in starts]


def figures(entries: Iterable[Entry], ramp: float) -> Figures:
    """locust's entries (``PREFIX_entries.json``) summed as its "Aggregated" row sums them."""
    group = list(entries)
    histogram: Counter[int] = Counter()
    per_second: Counter[int] = Counter()
    for entry in group:
        histogram.update({int(ms): count for ms, count in entry["response_times"].items()})
        per_second.update({int(s): count for s, count in entry["num_reqs_per_sec"].items()})
    requests = sum(entry["num_requests"] for entry in group)
    started = min((entry["start_time"] for entry in group), default=0.0)
    ended = max((entry["last_request_timestamp"] or 0.0 for entry in group), default=0.0)
    return Figures(
        requests=requests,
        failures=sum(entry["num_failures"] for entry in group),
        rps=requests / (ended - started) if ended > started else 0.0,
        windows=windows(per_second, ramp),
        p50=percentile(histogram, 0.5),
        p95=percentile(histogram, 0.95),
        p99=percentile(histogram, 0.99),
    )


def load_entries(prefix: Path) -> list[Entry]:
    """Every entry of the run's statistics, as the locustfile saved them."""
    with open(f"{prefix}_entries.json", encoding="utf-8") as file:
        entries: list[Entry] = json.load(file)
    return entries


def rest_summary(rest: Figures) -> str:
    """The REST requests' lines of the report (as before the streamers existed)."""
    steady = rest.windows or [0.0]
    return (
        f"  {rest.requests} requests, {rest.failures} failed\n"
        f"  {rest.rps:.0f} req/s overall; after the ramp-up, over {WINDOW} s windows: "
        f"median {statistics.median(steady):.0f}, lowest {min(steady):.0f}\n"
        f"  latency p50 {rest.p50:.0f} ms, p95 {rest.p95:.0f} ms, p99 {rest.p99:.0f} ms\n"
    )


def stream_summary(entries: list[Entry], ramp: float) -> str:
    """The streamers' lines: change events (per shape; lag from the gateway's change), first
    events (from connecting), failures and reconnections."""
    sse = [entry for entry in entries if entry["method"] == SSE]
    shapes = [e for e in sse if e["name"].startswith("stream") and not e["name"].endswith(FIRST)]
    events = figures(shapes, ramp)
    first = figures((e for e in sse if e["name"].endswith(FIRST)), ramp)
    reconnections = sum(e["num_requests"] for e in sse if e["name"] == "reconnect")
    per_shape = ", ".join(f"{entry['name']} {entry['num_requests']}" for entry in shapes)
    return (
        f"  streams: {events.requests} change events ({per_shape or 'none'}), "
        f"{sum(entry['num_failures'] for entry in sse)} failed, "
        f"{reconnections} reconnections\n"
        f"  streams: {events.rps:.0f} events/s (after the ramp-up, over {WINDOW} s windows: "
        f"median {statistics.median(events.windows or [0.0]):.0f}), lag p50 {events.p50:.0f} ms, "
        f"p99 {events.p99:.0f} ms; {first.requests} first events, "
        f"p50 {first.p50:.0f} ms, p99 {first.p99:.0f} ms from connecting\n"
    )


def ramp_seconds(args: argparse.Namespace) -> float:
    """Seconds until every user, streamers included, has been spawned."""
    return float((args.users + args.streamers) / args.spawn_rate)


def run_locust(
    args: argparse.Namespace, demo: Demo, prefix: Path, timeline: list[str]
) -> dict[str, float]:
    """locust against the stack for the run (with the faults, if asked for, noted in
    ``timeline``); the cores it, the gateways and HAProxy used once every user had started."""
    env = {
        **os.environ,
        "LOADTEST_USER_RPS": str(args.user_rps),
        "LOADTEST_STREAMERS": str(args.streamers),
    }
    before = evidence(demo) if args.faults else None
    started = time.monotonic()
    locust = subprocess.Popen(  # pylint: disable=consider-using-with
        locust_command(args, demo.api, prefix), env=env
    )
    timers = schedule_faults(demo, started, timeline) if args.faults else []
    # From the end of the ramp-up (and locust's start-up) to just before it stops.
    cores = cores_used(
        demo, locust.pid, started + ramp_seconds(args) + 5, started + args.duration - 1
    )
    locust.wait(args.duration + 60)
    for timer in timers:
        timer.cancel()
    if before is not None:
        timeline.extend(fault_evidence(before, evidence(demo)))
    return cores


def report(
    args: argparse.Namespace, prefix: Path, timeline: list[str], cores: dict[str, float]
) -> int:
    """Print the run's figures, the REST requests' and the streams' apart; 1 if any failed."""
    entries = load_entries(prefix)
    rest = figures((e for e in entries if e["method"] != SSE), ramp_seconds(args))
    print(
        f"\n{prefix.name}: {args.users} users at {args.user_rps or 'max'} req/s each, "
        f"{args.streamers} streamers, {args.duration} s, HAProxy cache {args.cache}\n"
        + "".join(f"  {line}\n" for line in timeline)
        + rest_summary(rest)
        + (stream_summary(entries, ramp_seconds(args)) if args.streamers else "")
        + "  cores used after the ramp-up: "
        + (", ".join(f"{name} {used:.2f}" for name, used in cores.items()) or "not measured")
        + "\n"
        + f"  reports: {prefix}_stats.csv, {prefix}.html"
    )
    failed = sum(entry["num_failures"] for entry in entries)
    return 1 if failed else 0


def main() -> int:
    """Run, report, and fail when any request failed."""
    args = arguments()
    name = args.name or (
        f"{'faults' if args.faults else 'steady'}-cache-{args.cache}-{args.users}u"
        + (f"-{args.streamers}s" if args.streamers else "")
    )
    RESULTS.mkdir(exist_ok=True)
    prefix = RESULTS / name
    timeline: list[str] = []
    with tempfile.TemporaryDirectory() as workdir:
        group = ProcessGroup(Path(workdir))
        try:
            demo = start_demo(
                group, Path(workdir) / "run", LOG_LEVEL="WARNING", HAPROXY_CACHE=args.cache
            )
            wait_for(
                lambda: whole_service(demo), 30, what="every replica up, every direction fresh"
            )
            cores = run_locust(args, demo, prefix, timeline)
        finally:
            group.stop_all()
            remove_private_cluster(Path(workdir) / "run")
    return report(args, prefix, timeline, cores)


def cores_used(demo: Demo, locust: int, since: float, until: float) -> dict[str, float]:
    """The cores locust (with its worker processes), the gateways and HAProxy used between two
    ``time.monotonic()`` times to come; none when the window is empty or a process ended in it
    (a replica killed by ``--faults``)."""
    if until <= since:
        return {}
    time.sleep(max(0.0, since - time.monotonic()))
    try:
        haproxy = demo.pid("haproxy")
        meter = CpuMeter(
            {
                "locust": [locust, *children(locust)],
                "gateways": [demo.pid(name) for name in GATEWAYS],
                "HAProxy": [haproxy, *children(haproxy)],
            }
        )
        time.sleep(max(0.0, until - time.monotonic()))
        return meter.cores()
    except FileNotFoundError:
        return {}


if __name__ == "__main__":
    sys.exit(main())
