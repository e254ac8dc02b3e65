"""The Docker Compose deployment on a real engine, end to end: ``docker compose up --build``
of the simulator variant (``compose.yaml`` + ``compose.sim.yaml``), every claim of the README's
"Docker Compose" section checked against the running project, then ``down``.

The tests share one project and run in order: each leaves it serving as it found it. Skipped,
with the reason, where no Docker engine with Compose v2 answers (``.ci/run`` starts one through
``../shared/docker-offline`` where that exists).
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from harness.checkout import copy_checkout
from harness.compose import Project, engine_problem
from harness.load import Load, Outcome, in_flight
from harness.procs import wait_for
from launcher.migrate import MIGRATIONS
from tests.haproxy.loglines import requests
from tests.sse import ended, open_stream

PROBLEM = engine_problem()
pytestmark = [
    pytest.mark.docker,
    pytest.mark.live,
    # The first test builds the image and starts the project (minutes on a cold machine).
    pytest.mark.timeout(900),
    pytest.mark.skipif(PROBLEM is not None, reason=f"no Docker engine to run on: {PROBLEM}"),
]

#: Services that run once and exit; every other container must be healthy, or running when
#: no check runs in both the real image and its stand-in (haproxy, grafana).
ONE_SHOTS = {"secrets", "dbmate"}
UNCHECKED = {"haproxy", "grafana"}


@pytest.fixture(scope="module", name="project")
def project_fixture(tmp_path_factory) -> Iterator[Project]:
    """The simulator variant, built and started as a user would, serving fresh rates."""
    project = Project(copy_checkout(tmp_path_factory.mktemp("compose")))
    try:
        started = time.monotonic()
        project.compose("up", "--build", "--detach", timeout=600)
        up = time.monotonic() - started
        wait_for(project.fresh, 120, interval=0.2, what="8 fresh courses on 8080")
        print(
            f"\n{project.name}: `up --build -d` returned after {up:.1f} s; 8 fresh courses "
            f"through HAProxy {time.monotonic() - started:.1f} s after it began"
        )
        yield project
    finally:
        logs = project.compose("logs", "--no-color", "--tail", "30", check=False).stdout
        print(f"----- the project's last log lines -----\n{logs}")
        project.down()


def settled(project: Project) -> bool:
    """Every one-shot exited 0, every checked container healthy, the rest running."""
    for container in project.containers():
        service, state, health = container["Service"], container["State"], container["Health"]
        if service in ONE_SHOTS:
            if state != "exited" or int(container["ExitCode"]) != 0:
                return False
        elif service in UNCHECKED:
            if state != "running":
                return False
        elif state != "running" or health != "healthy":
            return False
    return True


def failed(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if o.status != 200]


def test_every_container_is_healthy_or_completed(project: Project):
    wait_for(lambda: settled(project), 60, interval=1, what="every container healthy")
    services = {c["Service"] for c in project.containers()}
    assert services == {
        "secrets",
        "postgres",
        "dbmate",
        "forwarder-1",
        "forwarder-2",
        "simulator",
        "feeder-binance-ws",
        "feeder-binance-rest",
        "feeder-coingecko",
        "gateway",
        "haproxy",
        "prometheus",
        "grafana",
    }
    assert sum(1 for c in project.containers() if c["Service"] == "gateway") == 2


def test_the_migration_was_applied(project: Project):
    versions = [row[0] for row in project.sql("SELECT version FROM schema_migrations ORDER BY 1")]
    assert versions == sorted(path.name.split("_")[0] for path in MIGRATIONS.glob("*.sql"))
    for table in ("ticks", "served", "candles_1m", "candles_1h"):
        assert project.sql(f"SELECT to_regclass('{table}') IS NOT NULL") == [["t"]], table


def test_feeders_read_the_simulator_and_no_live_feeder_runs(project: Project):
    state = httpx.get(project.url("SIM_CONTROL", "/_control/state"), timeout=5).json()
    assert state  # the simulator's control API answers on its published port
    for service in ("feeder-binance-ws", "feeder-binance-rest", "feeder-coingecko"):
        environment = project.exec(service, "env")
        assert "simulator" in environment, service
        assert "binance.com" not in environment and "coingecko.com" not in environment


def test_both_replicas_serve_eight_fresh_courses_through_haproxy(project: Project):
    password = project.stats_password()
    before = {name: int(row["stot"]) for name, row in project.servers(password).items()}
    for number in range(20):  # past the cache: each request reaches a replica
        response = httpx.get(project.url("API", f"/api/v1/courses?n={number}"), timeout=5)
        assert response.status_code == 200
        courses = response.json()["courses"]
        assert len(courses) == 8 and not any(course["stale"] for course in courses)
    after = {name: int(row["stot"]) for name, row in project.servers(password).items()}
    assert after["gateway-1"] > before["gateway-1"] and after["gateway-2"] > before["gateway-2"]


def test_the_public_port_serves_the_api_and_its_docs_only(project: Project):
    for path in ("/metrics", "/healthz", "/readyz", "/api/v1/sources"):
        assert httpx.get(project.url("API", path), timeout=5).status_code == 404, path
    for path in ("/api/v1/courses", "/courses", "/docs", "/openapi.json"):
        assert httpx.get(project.url("API", path), timeout=5).status_code == 200, path
    # The replicas still answer them on their own address (Prometheus: the targets test).
    assert "ok" in project.exec("gateway", "python", "-c", READYZ)


#: run inside a gateway container: its own /readyz and /api/v1/sources answer
READYZ = (
    "import urllib.request as u; "
    "[u.urlopen(f'http://127.0.0.1:8000{p}', timeout=2) for p in ('/readyz', '/api/v1/sources')]; "
    "print('ok')"
)


def test_ticks_keep_growing_in_postgres(project: Project):
    def stored() -> int:
        return int(project.sql("SELECT count(*) FROM ticks")[0][0])

    first = stored()
    wait_for(lambda: stored() > first + 10, 15, interval=0.5, what="more ticks stored")


def test_every_prometheus_target_is_up(project: Project):
    def targets() -> list[dict[str, Any]]:
        answer = httpx.get(project.url("PROMETHEUS", "/api/v1/targets"), timeout=5).json()
        active: list[dict[str, Any]] = answer["data"]["activeTargets"]
        return active

    wait_for(
        lambda: len(targets()) == 2 + 3 + 2 + 1 and all(t["health"] == "up" for t in targets()),
        60,
        interval=1,
        what="8 targets up (2 gateways, 3 feeders, 2 forwarders, HAProxy)",
    )


def test_secrets_were_made_up_and_guard_the_stats_page(project: Project):
    password = project.stats_password()
    assert len(password) >= 30 and password != "change-me"
    assert project.exec("postgres", "cat", "/run/secrets/postgres/password") != password
    stats = project.url("STATS", "/")
    assert httpx.get(stats, timeout=5).status_code == 401
    assert httpx.get(stats, auth=("admin", "change-me"), timeout=5).status_code == 401
    assert httpx.get(stats, auth=("admin", password), timeout=5).status_code == 200
    # The exporter is not on the stats port, and its own port is not published...
    assert httpx.get(project.url("STATS", "/metrics"), timeout=5).status_code == 401
    assert project.compose("port", "haproxy", "8405", check=False).returncode != 0
    # ...Prometheus reads it on the project's network (the target above).
    # Each service sees the secrets it uses, and no other.
    for service, files in (
        ("haproxy", ["/run/secrets/haproxy/stats_password"]),
        ("gateway", ["/run/secrets/postgres/password"]),
    ):
        assert project.exec(service, "find", "/run/secrets", "-type", "f").split() == files


def test_a_second_build_and_up_recreate_nothing(project: Project):
    before = project.ids()
    load = Load(project.url("API", "/api/v1/courses"), concurrency=8, timeout=45)
    try:
        project.compose("up", "--build", "--detach", timeout=300)
        project.compose("up", "--detach")
    finally:
        outcomes = load.stop()
    assert project.ids() == before
    assert outcomes and failed(outcomes) == []


def test_scaling_to_three_replicas_and_back_fails_no_request(project: Project):
    password = project.stats_password()
    before = project.ids()
    load = Load(project.url("API", "/api/v1/courses"), concurrency=8, timeout=45)
    try:
        project.compose("up", "--detach", "--scale", "gateway=3")
        wait_for(
            lambda: int(project.servers(password)["gateway-3"]["stot"]) > 0,
            60,
            interval=0.5,
            what="HAProxy sending to gateway-3",
        )
        scaled = project.ids()
        project.compose("up", "--detach")  # back to the two replicas of compose.yaml
        time.sleep(2)
    finally:
        outcomes = load.stop()
    assert {name: id_ for name, id_ in scaled.items() if name in before} == before
    assert len(scaled) == len(before) + 1
    assert project.ids() == before
    print(
        f"scaled to 3 and back to 2 under load: {len(failed(outcomes))} failed of {len(outcomes)}"
    )
    assert outcomes and failed(outcomes) == []


def test_a_code_change_restarts_the_replicas_and_fails_no_request(project: Project):
    source = project.directory / "gateway" / "api.py"
    source.write_text(source.read_text() + "\n# a code change (tests/docker)\n")
    before = project.ids()
    load = Load(project.url("API", "/api/v1/courses"), concurrency=8, timeout=45)
    try:
        project.compose("up", "--build", "--detach", timeout=300)
        wait_for(project.fresh, 60, interval=0.2, what="fresh courses again")
    finally:
        outcomes = load.stop()
    after = project.ids()
    gateways = [name for name in before if "-gateway-" in name]
    assert all(after[name] != before[name] for name in gateways)  # new image, new containers
    slowest = max(o.ended - o.started for o in outcomes)
    print(
        f"code change: replicas recreated, {len(failed(outcomes))} failed of {len(outcomes)} "
        f"requests, the slowest answered in {slowest:.1f} s"
    )
    if failed(outcomes):  # what HAProxy made of them, to tell who closed what
        logged = requests(project.compose("logs", "--no-color", "haproxy").stdout)
        print(
            "HAProxy's lines but plain successes:", [r for r in logged if not r.succeeded_plainly]
        )
    assert outcomes and failed(outcomes) == []


def kill_replica_process(project: Project, index: int) -> None:
    """SIGKILL the gateway process of one replica (the child of the container's init)."""
    project.exec("gateway", "sh", "-c", "kill -KILL $(cat /proc/1/task/1/children)", index=index)


def restarts(container: str) -> int:
    """How many times Docker restarted ``container`` (its restart policy at work)."""
    result = subprocess.run(
        ["docker", "inspect", "--format", "{{.RestartCount}}", container],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout)


def open_streams(project: Project, password: str) -> list[int]:
    """Streams HAProxy holds open to each replica's stream server."""
    servers = project.servers(password, "gateway_streams")
    return [int(servers[name]["scur"]) for name in ("gateway-1", "gateway-2")]


def test_the_courses_stream_goes_through_the_public_port(project: Project):
    """Issue 14 in compose: unbuffered and uncached through 8080; a replica that dies drops its
    streams and their clients reconnect to the other one at once."""
    password = project.stats_password()
    url = project.url("API", "/api/v1/courses/stream")
    wait_for(lambda: open_streams(project, password) == [0, 0], 10, what="no stream open")
    container = f"{project.name}-gateway-1"
    restarted = restarts(container)
    with open_stream(url) as one, open_stream(url) as two:
        for stream in (one, two):
            assert stream.response.headers["content-type"] == "text/event-stream"
            assert "x-cache" not in stream.response.headers
        first = [next(stream.events()) for stream in (one, two)]
        assert all(len(json.loads(event.fields["data"])["courses"]) == 8 for event in first)
        assert open_streams(project, password) == [1, 1]  # leastconn: one on each replica
        # Changes arrive while the responses are open: nothing holds them back.
        assert next(one.events()).fields["id"] != first[0].fields["id"]
        killed_ms = time.time() * 1000
        kill_replica_process(project, 1)
        endings = [ended(one, killed_ms), ended(two, killed_ms)]
        assert sorted(endings) == [False, True]
        last_id = first[endings.index(True)].fields["id"]
        started = time.monotonic()
        with open_stream(url, last_event_id=last_id) as again:
            assert next(again.events()).fields["data"]
            reconnected = time.monotonic() - started
    print(f"a dropped stream's client had its next event {reconnected:.2f} s after reconnecting")
    assert reconnected < 5.0
    wait_for(lambda: restarts(container) > restarted, 30, what="gateway-1 restarted by Docker")
    wait_for(
        lambda: project.servers(password)["gateway-1"]["status"] == "UP",
        60,
        interval=0.2,
        what="gateway-1 back in rotation",
    )


def test_a_killed_replica_costs_at_most_the_requests_in_flight(project: Project):
    password = project.stats_password()
    container = f"{project.name}-gateway-1"
    restarted = restarts(container)
    load = Load(project.url("API", "/api/v1/courses"), concurrency=16, timeout=30)
    try:
        time.sleep(2)
        killed_at = time.monotonic()
        kill_replica_process(project, 1)
        wait_for(
            lambda: restarts(container) > restarted,
            30,
            interval=0.1,
            what="gateway-1 restarted by Docker",
        )
        # Back in rotation once its checks pass again (it may come back before two of them
        # failed, so HAProxy need not have marked it down).
        served = int(project.servers(password)["gateway-1"]["stot"])
        wait_for(
            lambda: project.servers(password)["gateway-1"]["status"] == "UP"
            and int(project.servers(password)["gateway-1"]["stot"]) > served,
            60,
            interval=0.2,
            what="gateway-1 serving again",
        )
        back_at = time.monotonic()
        answered = len(load.outcomes)
        wait_for(lambda: len(load.outcomes) > answered + 100, 30, what="answers after its return")
    finally:
        outcomes = load.stop()
    print(
        f"replica killed under load: {len(failed(outcomes))} failed of {len(outcomes)} "
        f"({in_flight(outcomes, killed_at)} in flight); serving again "
        f"{back_at - killed_at:.1f} s later"
    )
    assert len(failed(outcomes)) <= in_flight(outcomes, killed_at)
    # HAProxy logged the requests it retried on the other replica, and no plain success.
    logged = requests(project.compose("logs", "--no-color", "haproxy").stdout)
    assert any(r.retries != "0" for r in logged), "no retried request was logged"
    assert not [r for r in logged if r.succeeded_plainly]


def drained(project: Project, index: int) -> bool:
    """Replica ``index``'s writer holds nothing it has not stored."""
    return bool(project.writer(index)["pending"] == 0)


def test_a_postgres_restart_loses_no_tick(project: Project):
    started_before = project.sql("SELECT pg_postmaster_start_time()")[0][0]
    window_start = project.sql("SELECT now()")[0][0]
    project.compose("restart", "postgres")
    wait_for(
        lambda: project.compose("exec", "-T", "postgres", "pg_isready", check=False).returncode
        == 0,
        30,
        interval=0.5,
        what="PostgreSQL back",
    )
    assert project.sql("SELECT pg_postmaster_start_time()")[0][0] != started_before
    restarted = project.sql("SELECT pg_postmaster_start_time()")[0][0]

    def stored_since_restart() -> bool:
        query = (
            "SELECT count(*) FROM ticks WHERE transport LIKE 'binance%' "
            f"AND exchange_ts > '{restarted}'"
        )
        return int(project.sql(query)[0][0]) >= 10

    # The window runs on until ticks from after the restart are stored: the writers retried
    # what failed meanwhile and are storing again.
    wait_for(stored_since_restart, 60, interval=0.5, what="ticks stored after the restart")
    window_end = project.sql("SELECT now()")[0][0]
    for index in (1, 2):
        wait_for(partial(drained, project, index), 30, what="writer drained")
        assert project.writer(index)["dropped"] == 0
    # Each feeder numbers its ticks: every number published in the window is stored.
    rows = project.sql(
        "SELECT feeder_id, count(*), max(seq) - min(seq) + 1 FROM ticks "
        f"WHERE exchange_ts BETWEEN '{window_start}' AND '{window_end}' "
        "AND transport LIKE 'binance%' GROUP BY feeder_id"
    )
    print(f"PostgreSQL restarted: (feeder, stored, numbered) {rows}")
    assert len(rows) == 2 and all(int(row[1]) > 5 for row in rows)
    assert all(row[1] == row[2] for row in rows)


def test_down_leaves_nothing_behind(project: Project):
    project.compose("down", "--volumes", "--timeout", "10")
    label = f"label=com.docker.compose.project={project.name}"
    for kind in ("ps", "volume ls", "network ls"):
        command = ["docker", *kind.split(), *(["-a"] if kind == "ps" else []), "-q"]
        listed = subprocess.run(
            [*command, "--filter", label], capture_output=True, text=True, check=True
        ).stdout
        assert listed.strip() == "", f"{kind} still lists {listed.split()}"
