"""From the simulator sending a price to that price being visible in the API.

``python -m bench.latency [--seconds 30]`` (``make bench-latency``)

The simulator stamps every miniTicker with ``E`` = the moment it sends it; the path is
simulator -> binance-ws feeder -> forwarder -> gateway -> HTTP. A client polls
``/api/v1/courses?direction=USDTTRC-USD`` (priced from the one USDCUSDT leg, so its
``updated_at`` is exactly the ``E`` of the tick behind it) as fast as one connection allows;
when a new ``updated_at`` appears, the latency is the wall clock minus it. The polling interval
(printed) bounds how late the client can be to see it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

from common.wire import now_ms
from harness.procs import ProcessGroup, wait_for
from harness.stack import start_feeder, start_forwarder, start_gateway, start_sim


def poll(port: int, seconds: float) -> tuple[list[int], float]:
    """Latencies (ms) of every new value seen, and the mean polling interval (ms)."""
    connection = http.client.HTTPConnection("127.0.0.1", port)
    path = "/api/v1/courses?direction=USDTTRC-USD"
    seen: set[str] = set()
    latencies: list[int] = []
    polls = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        received = now_ms()
        polls += 1
        if response.status != 200:
            continue
        updated_at = json.loads(body)["courses"][0]["updated_at"]
        if updated_at not in seen:
            seen.add(updated_at)
            stamp = datetime.fromisoformat(updated_at).timestamp() * 1000
            latencies.append(int(received - stamp))
    connection.close()
    return latencies[1:], seconds * 1000 / polls  # the first was already there


def main() -> None:
    """Run the path, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--tick", type=float, default=0.1, help="simulator market step, s")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        group = ProcessGroup(Path(workdir))
        try:
            sim = start_sim(group, SIM_TICK_INTERVAL=str(args.tick))
            forwarder = start_forwarder(group)
            start_feeder(group, "binance-ws", sim, [forwarder], LOG_LEVEL="WARNING")
            gateway = start_gateway(group, [forwarder], LOG_LEVEL="WARNING")
            wait_for(lambda: poll(gateway.port, 0.3)[0], 15, interval=0.2, what="prices flowing")
            latencies, interval = poll(gateway.port, args.seconds)
        finally:
            group.stop_all()
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(
        f"simulator -> API over {len(latencies)} prices: median "
        f"{statistics.median(latencies):.0f} ms, p99 {p99} ms, max {latencies[-1]} ms "
        f"(polled every {interval:.2f} ms)"
    )


if __name__ == "__main__":
    main()
