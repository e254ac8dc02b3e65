"""A real Prometheus (Debian's package) scraping the running native stack: every expression of
every Grafana panel returns data."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from monitoring.dashboards import DASHBOARDS
from harness.procs import ProcessGroup, wait_for
from harness.stack import Demo, remove_private_cluster, start_demo

pytestmark = pytest.mark.live

EXPRESSIONS = [
    (dashboard.uid, panel.title, query.expr)
    for dashboard in DASHBOARDS
    for panel in dashboard.panels
    for query in panel.queries
]


@pytest.fixture(scope="module", name="demo")
def demo_fixture(tmp_path_factory) -> Iterator[Demo]:
    """The demo stack with Prometheus, scraped for long enough for rates and quantiles."""
    workdir = tmp_path_factory.mktemp("monitored")
    group = ProcessGroup(workdir)
    try:
        demo = start_demo(group, workdir / "run", ("--prometheus",))
        prometheus = demo.prometheus
        with httpx.Client(timeout=5) as client:
            # Traffic for the HTTP panels: plain, conditional, filtered, and an invalid query.
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                tag = client.get(f"{demo.api}/api/v1/courses").headers.get("etag", "")
                client.get(f"{demo.api}/api/v1/courses", headers={"If-None-Match": tag})
                client.get(f"{demo.api}/courses?base=BTC&_={time.monotonic()}")
                client.get(f"{demo.api}/api/v1/courses?base=DOGE")
                time.sleep(0.1)
        wait_for(
            lambda: all(t["health"] == "up" for t in targets(prometheus)),
            20,
            what="every target scraped",
        )
        yield demo
    finally:
        group.stop_all()
        remove_private_cluster(workdir / "run")


def targets(prometheus: str) -> list[dict]:
    active = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
    return active or [{"health": "unknown"}]


def test_prometheus_scrapes_every_process(demo: Demo):
    prometheus = demo.prometheus
    jobs = {t["labels"]["job"] for t in targets(prometheus)}
    assert jobs == {"gateways", "feeders", "forwarders", "haproxy"}
    assert len(targets(prometheus)) == 2 + 3 + 2 + 1


@pytest.mark.parametrize("dashboard,panel,expr", EXPRESSIONS, ids=[e[2] for e in EXPRESSIONS])
def test_every_panel_expression_returns_data(demo: Demo, dashboard, panel, expr):
    prometheus = demo.prometheus

    def result() -> list:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]["result"]

    assert wait_for(result, 30, interval=1, what=f"{dashboard} / {panel}: {expr}")
