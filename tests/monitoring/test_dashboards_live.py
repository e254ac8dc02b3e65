"""A real Prometheus (Debian's package) scraping the running native stack: every expression of
every Grafana panel returns data."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from harness.load import Load
from harness.procs import ProcessGroup, wait_for
from harness.stack import Demo, remove_private_cluster, start_demo
from monitoring.dashboards import DASHBOARDS, SERVICE

pytestmark = pytest.mark.live

EXPRESSIONS = [
    (dashboard.uid, panel.title, query.expr)
    for dashboard in DASHBOARDS
    for panel in dashboard.panels
    for query in panel.queries
]


def traffic(api: str, stop: threading.Event) -> None:
    """Requests for the HTTP panels, ten rounds a second until ``stop``: plain, conditional,
    filtered, and an invalid query."""
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():
            try:
                tag = client.get(f"{api}/api/v1/courses").headers.get("etag", "")
                client.get(f"{api}/api/v1/courses", headers={"If-None-Match": tag})
                client.get(f"{api}/courses?base=BTC&_={time.monotonic()}")
                client.get(f"{api}/api/v1/courses?base=DOGE")
            except httpx.HTTPError:
                pass  # a replica restarting: the panels only need most of it
            stop.wait(0.1)


@pytest.fixture(scope="module", name="demo")
def demo_fixture(tmp_path_factory) -> Iterator[Demo]:
    """The demo stack with Prometheus, and traffic for as long as the module's tests ask
    Prometheus for data (each waits for its own panel)."""
    workdir = tmp_path_factory.mktemp("monitored")
    group = ProcessGroup(workdir)
    stop = threading.Event()
    sender = None
    try:
        demo = start_demo(group, workdir / "run", ("--prometheus",), GATEWAY_FAULT_INJECTION="true")
        sender = threading.Thread(target=traffic, args=(demo.api, stop), daemon=True)
        sender.start()
        wait_for(
            lambda: all(t["health"] == "up" for t in targets(demo.prometheus)),
            30,
            what="every target scraped",
        )
        yield demo
    finally:
        stop.set()
        if sender is not None:
            sender.join(10)
        group.stop_all()
        remove_private_cluster(workdir / "run")


def targets(prometheus: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/targets", timeout=5).json()
    active: list[dict[str, Any]] = answer["data"]["activeTargets"]
    return active or [{"health": "unknown"}]


def test_prometheus_scrapes_every_process(demo: Demo):
    prometheus = demo.prometheus
    jobs = {t["labels"]["job"] for t in targets(prometheus)}
    assert jobs == {"gateways", "feeders", "forwarders", "haproxy"}
    assert len(targets(prometheus)) == 2 + 3 + 2 + 1


@pytest.mark.parametrize("dashboard,panel,expr", EXPRESSIONS, ids=[e[2] for e in EXPRESSIONS])
def test_every_panel_expression_returns_data(demo: Demo, dashboard, panel, expr):
    prometheus = demo.prometheus

    def result() -> list[Any]:
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5)
        assert answer.status_code == 200, answer.text
        found: list[Any] = answer.json()["data"]["result"]
        return found

    assert wait_for(result, 30, interval=1, what=f"{dashboard} / {panel}: {expr}")


def by_server(prometheus: str, expr: str) -> dict[str, float]:
    """A query's value for each ``server`` label."""
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5)
    return {r["metric"]["server"]: float(r["value"][1]) for r in answer.json()["data"]["result"]}


def test_a_slow_replica_stands_out_on_the_service_dashboard(demo: Demo):
    (panel,) = [p for p in SERVICE.panels if p.title == "Response time per replica (HAProxy)"]
    expr = panel.queries[0].expr
    control = f"http://127.0.0.1:{demo.gateway_ports[0]}/_control/delay"
    # 30 ms late: slow, but within the 50 ms HAProxy gives the courses, so answered.
    assert httpx.put(control, json={"milliseconds": 30}, timeout=5).status_code == 200
    load = Load(f"{demo.api}/api/v1/courses", concurrency=8)
    try:

        def stands_out() -> bool:
            times = by_server(demo.prometheus, expr)
            slow, other = times.get("gateway-1", 0.0), times.get("gateway-2", 1.0)
            return slow > 0.01 and slow > 5 * other

        wait_for(stands_out, 60, interval=1, what="gateway-1 slower on the dashboard")
    finally:
        load.stop()
        httpx.put(control, json={"milliseconds": 0}, timeout=5)
    print(f"response time per replica: {by_server(demo.prometheus, expr)}")


def test_prometheus_loads_the_alerting_rules(demo: Demo):
    answer = httpx.get(f"{demo.prometheus}/api/v1/rules", timeout=5).json()
    rules = {rule["name"]: rule for group in answer["data"]["groups"] for rule in group["rules"]}
    assert rules["RatesDirectionDisputed"]["health"] == "ok"


def test_a_skewed_venue_fires_the_dispute_alert_for_the_directions_it_moves(demo: Demo):
    """Last in the module: both Binance transports 10 % off, so the USDT directions (where
    USDCUSDT stands alone) are disputed, for longer than the alert's 15 s."""
    usdt = {"USDTTRC-USD", "USDTTRC-RUB", "USDTERC-USD", "USDTERC-RUB"}

    def firing() -> set[str]:
        alerts = httpx.get(f"{demo.prometheus}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        return {
            alert["labels"]["direction"]
            for alert in alerts
            if alert["labels"]["alertname"] == "RatesDirectionDisputed"
            and alert["state"] == "firing"
        }

    for target in ("binance-ws", "binance-rest"):
        demo.sim.inject(target, "skew", percent=10, seconds=90)
    try:
        wait_for(lambda: usdt <= firing(), 60, interval=1, what="the dispute alert firing")
        assert firing() == usdt  # the skew cancels out in the others
    finally:
        demo.sim.clear()
