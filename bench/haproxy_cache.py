"""Requests per second through HAProxy with its cache on and off, in the same run.

``python -m bench.haproxy_cache [--seconds 10] [--rounds 3]`` (``make bench-cache``)

The demo stack runs (simulator, mesh, two gateways, PostgreSQL, HAProxy with its cache); a
second HAProxy with the same configuration but ``HAPROXY_CACHE=off`` fronts the same gateways.
wrk loads each in turn, on ``GET /api/v1/courses`` as plain requests and as pollers sending the
current ``If-None-Match``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx

from bench.wrk import alternate, print_medians, wrk_arguments
from harness.ports import ADDRESS_IN_USE, PortTaken, listening_ports, retry_taken_ports, unused_port
from harness.procs import ProcessGroup
from harness.stack import Demo, remove_private_cluster, start_demo


def current_tag(api: str) -> str:
    return httpx.get(f"{api}/api/v1/courses").headers["etag"]


def start_cacheless_haproxy(group: ProcessGroup, demo: Demo) -> int:
    """A second HAProxy in front of the demo's gateways, with its cache off; its port."""
    port, stats_port = unused_port(), unused_port()
    haproxy = group.spawn(
        f"haproxy-nocache-{port}",
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
            "HAPROXY_STATS_BIND": f"127.0.0.1:{stats_port}",
            "HAPROXY_STATS_USER": "admin",
            "HAPROXY_STATS_PASSWORD": "bench",
            "HAPROXY_CACHE": "off",
        },
        python=False,
        cwd=Path(__file__).resolve().parent.parent,
    )

    def listening() -> bool:
        if ADDRESS_IN_USE.search(haproxy.output()):
            haproxy.stop()
            raise PortTaken(port)
        return port in listening_ports(haproxy.pid)

    haproxy.wait_for(listening, 10, what="the cacheless HAProxy listening")
    return port


def main() -> None:
    """Measure and print."""
    args = wrk_arguments(__doc__)
    with tempfile.TemporaryDirectory() as workdir:
        group = ProcessGroup(Path(workdir))
        try:
            demo = start_demo(group, Path(workdir) / "run", LOG_LEVEL="WARNING")
            port = retry_taken_ports(lambda: start_cacheless_haproxy(group, demo))
            targets = {"cache on": demo.api, "cache off": f"http://127.0.0.1:{port}"}
            results = alternate(
                {name: f"{base}/api/v1/courses" for name, base in targets.items()},
                lambda: {"GET": {}, "If-None-Match": {"If-None-Match": current_tag(demo.api)}},
                args,
            )
        finally:
            group.stop_all()
            remove_private_cluster(Path(workdir) / "run")
    print(
        f"through HAProxy: wrk -t1 -c{args.connections} -d{args.seconds}s, median of "
        f"{args.rounds} rounds"
    )
    print_medians(results, "requests")


if __name__ == "__main__":
    main()
