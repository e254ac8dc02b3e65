"""A load test of the whole native stack through HAProxy, with locust, optionally under faults.

``python -m loadtest.run [--duration 60] [--users 1600] [--user-rps 1] [--cache on|off]
[--faults] [--name NAME]`` (``make bench``)

It starts the stack as ``make demo`` does (simulator, two forwarders, feeders, PostgreSQL, two
gateways, HAProxy) on free ports, runs locust headless for the duration, and writes locust's CSV
and HTML reports to ``loadtest/results/NAME*``. With ``--faults``, while the load runs: Binance
is cut for 20 s (the simulator stalls its websocket streams and fails its REST API) from 15 s
in, and gateway-1 is killed with SIGKILL at 30 s (supervisord restarts it). It prints
requests/s, p50/p95/p99 and failures, and exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

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
        str(args.users),
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


def summary(prefix: Path, ramp: float) -> dict[str, float]:
    """The aggregated figures of a run, and its rate over every 10-second window after the
    ramp-up (from the history's running totals: locust's own rate column is smoothed)."""
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as stats:
        total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    with open(f"{prefix}_stats_history.csv", newline="", encoding="utf-8") as history:
        rows = [row for row in csv.DictReader(history) if row["Name"] == "Aggregated"]
    start = int(rows[0]["Timestamp"]) if rows else 0
    points = [
        (int(row["Timestamp"]), int(row["Total Request Count"]))
        for row in rows
        if int(row["Timestamp"]) - start > ramp + 1
    ]
    # Rates over windows: distributed locust updates its totals every few seconds.
    per_second = []
    for index, (before, previous) in enumerate(points):
        later = next(((t, c) for t, c in points[index:] if t >= before + WINDOW), None)
        if later is not None:
            per_second.append((later[1] - previous) / (later[0] - before))
    return {
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]),
        "steady_rps_median": statistics.median(per_second) if per_second else 0.0,
        "steady_rps_min": min(per_second) if per_second else 0.0,
        "p50": float(total["50%"]),
        "p95": float(total["95%"]),
        "p99": float(total["99%"]),
    }


def main() -> int:
    """Run, report, and fail when any request failed."""
    args = arguments()
    name = args.name or (
        f"{'faults' if args.faults else 'steady'}-cache-{args.cache}-{args.users}u"
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
            env = {**os.environ, "LOADTEST_USER_RPS": str(args.user_rps)}
            before = evidence(demo) if args.faults else None
            started = time.monotonic()
            locust = subprocess.Popen(  # pylint: disable=consider-using-with
                locust_command(args, demo.api, prefix), env=env
            )
            timers = schedule_faults(demo, started, timeline) if args.faults else []
            locust.wait(args.duration + 60)
            for timer in timers:
                timer.cancel()
            if before is not None:
                timeline.extend(fault_evidence(before, evidence(demo)))
        finally:
            group.stop_all()
            remove_private_cluster(Path(workdir) / "run")
    figures = summary(prefix, args.users / args.spawn_rate)
    print(
        f"\n{name}: {args.users} users at {args.user_rps or 'max'} req/s each, "
        f"{args.duration} s, HAProxy cache {args.cache}\n"
        + "".join(f"  {line}\n" for line in timeline)
        + f"  {figures['requests']} requests, {figures['failures']} failed\n"
        f"  {figures['rps']:.0f} req/s overall; after the ramp-up, over {WINDOW} s windows: "
        f"median {figures['steady_rps_median']:.0f}, lowest {figures['steady_rps_min']:.0f}\n"
        f"  latency p50 {figures['p50']:.0f} ms, p95 {figures['p95']:.0f} ms, "
        f"p99 {figures['p99']:.0f} ms\n"
        f"  reports: {prefix}_stats.csv, {prefix}.html"
    )
    return 1 if figures["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
