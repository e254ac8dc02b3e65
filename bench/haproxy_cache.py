"""Requests per second through HAProxy with its cache on and off, in the same run.

``python -m bench.haproxy_cache [--seconds 10] [--rounds 3]`` (``make bench-cache``)

The demo stack runs (simulator, mesh, two gateways, PostgreSQL, HAProxy with its cache); a
second HAProxy with the same configuration but ``HAPROXY_CACHE=off`` fronts the same gateways.
wrk loads each in turn, on ``GET /api/v1/courses`` as plain requests and as pollers sending the
current ``If-None-Match``.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

import httpx

from bench.wrk import WrkResult, run_wrk, wrk_arguments
from tests.procs import ProcessGroup, free_port, port_open, wait_for
from tests.stack import start_demo


def main() -> None:
    """Measure and print."""
    args = wrk_arguments(__doc__)
    results: dict[tuple[str, str], list[WrkResult]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        group = ProcessGroup(Path(workdir))
        try:
            demo = start_demo(group, Path(workdir) / "run", LOG_LEVEL="WARNING")
            port = free_port()
            group.spawn(
                "haproxy-nocache",
                [
                    "haproxy",
                    "-db",
                    "-f",
                    "haproxy/haproxy.cfg",
                    "-f",
                    str(demo.run_dir / "haproxy-gateways.cfg"),
                ],
                env={
                    "HAPROXY_HTTP_BIND": f"127.0.0.1:{port}",
                    "HAPROXY_STATS_BIND": f"127.0.0.1:{free_port()}",
                    "HAPROXY_STATS_USER": "admin",
                    "HAPROXY_STATS_PASSWORD": "bench",
                    "HAPROXY_CACHE": "off",
                },
                python=False,
                cwd=Path(__file__).resolve().parent.parent,
            )
            wait_for(lambda: port_open(port), 10, what="the cacheless HAProxy")
            targets = {"cache on": demo.api, "cache off": f"http://127.0.0.1:{port}"}
            for _ in range(args.rounds):
                tag = httpx.get(f"{demo.api}/api/v1/courses").headers["etag"]
                for mode, headers in (("GET", {}), ("If-None-Match", {"If-None-Match": tag})):
                    for name, base in targets.items():
                        result = run_wrk(
                            f"{base}/api/v1/courses", args.seconds, args.connections, headers
                        )
                        results.setdefault((name, mode), []).append(result)
        finally:
            group.stop_all()
            shutil.rmtree((Path(workdir) / "run" / "pg").resolve(), ignore_errors=True)
    print(
        f"through HAProxy: wrk -t1 -c{args.connections} -d{args.seconds}s, median of "
        f"{args.rounds} rounds"
    )
    print(f"{'requests':<15}{'HAProxy':<11}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for mode in ("GET", "If-None-Match"):
        for name in targets:
            runs = results[(name, mode)]
            print(
                f"{mode:<15}{name:<11}"
                f"{statistics.median(r.requests_per_second for r in runs):>10.0f}"
                f"{statistics.median(r.p50_ms for r in runs):>9.2f}"
                f"{statistics.median(r.p99_ms for r in runs):>9.2f}"
                f"{sum(r.errors for r in runs):>8}"
            )


if __name__ == "__main__":
    main()
