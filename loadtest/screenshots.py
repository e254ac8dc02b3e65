"""Screenshots of a real run for the README: locust's charts during a load test under faults,
and HAProxy's stats page under that load.

``python -m loadtest.screenshots`` (``make screenshots``) starts the stack as ``make demo``
does, runs locust with its web UI (100 users, 16 requests/s each), cuts Binance for 20 s from
15 s in and kills gateway-1 at 30 s (as ``make bench`` does), and at 55 s captures locust's
charts and statistics and HAProxy's stats page with headless Chromium into
``docs/screenshots/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.ports import listening_ports
from harness.procs import ProcessGroup, wait_for
from harness.stack import remove_private_cluster, start_demo
from loadtest.browser import Browser, basic_auth
from loadtest.run import schedule_faults, whole_service

HERE = Path(__file__).resolve().parent
OUTPUT = HERE.parent / "docs" / "screenshots"
LOCUST = Path(sys.executable).parent / "locust"


def main() -> None:
    """Run, capture, stop."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        group = ProcessGroup(Path(workdir))
        locust = None
        try:
            demo = start_demo(group, Path(workdir) / "run", LOG_LEVEL="WARNING")
            wait_for(
                lambda: whole_service(demo), 30, what="every replica up, every direction fresh"
            )
            locust = subprocess.Popen(  # pylint: disable=consider-using-with
                [
                    str(LOCUST),
                    "-f",
                    str(HERE / "locustfile.py"),
                    "--host",
                    demo.api,
                    "--web-host",
                    "127.0.0.1",
                    "--web-port",
                    "0",
                    "--autostart",
                    "--users",
                    "100",
                    "--spawn-rate",
                    "100",
                    "--run-time",
                    "90s",
                    "--loglevel",
                    "WARNING",
                ],
                env={**os.environ, "LOADTEST_USER_RPS": "16"},
            )
            (web,) = wait_for(lambda: listening_ports(locust.pid), 20, what="locust's web UI")
            timeline: list[str] = []
            schedule_faults(demo, time.monotonic(), timeline)
            browser = Browser()
            try:
                browser.open(f"http://127.0.0.1:{web}/?tab=charts", settle=55)
                browser.screenshot(OUTPUT / "locust-charts.png")
                browser.open(f"http://127.0.0.1:{web}/?tab=stats", settle=3)
                browser.screenshot(OUTPUT / "locust-statistics.png")
                browser.resize(1440, 520)
                browser.open(f"{demo.stats}/", basic_auth("admin", "test-password"), settle=3)
                browser.screenshot(OUTPUT / "haproxy-stats.png")
            finally:
                browser.close()
        finally:
            if locust is not None:
                locust.terminate()
                locust.wait(20)
            group.stop_all()
            remove_private_cluster(Path(workdir) / "run")
    print("\n".join(timeline))
    for name in ("locust-charts.png", "locust-statistics.png", "haproxy-stats.png"):
        print(OUTPUT / name)


if __name__ == "__main__":
    main()
