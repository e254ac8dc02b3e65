"""HAProxy in front of the native stack (``make demo``): the cache, the stats page, limits, and
no single point of failure: a replica or a forwarder killed under load."""

from __future__ import annotations

import csv
import io
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from harness.load import Load, in_flight
from harness.procs import ProcessGroup, wait_for
from harness.stack import Demo, all_served, remove_private_cluster, start_demo
from tests.api import ApiPoller, exchangers
from tests.haproxy.loglines import requests

pytestmark = pytest.mark.live
AUTH = ("admin", "test-password")


@pytest.fixture(scope="module", name="demo")
def demo_fixture(tmp_path_factory) -> Iterator[Demo]:
    """The demo stack, shared by the module."""
    workdir = tmp_path_factory.mktemp("demo")
    group = ProcessGroup(workdir)
    try:
        yield start_demo(group, workdir / "run")
    finally:
        group.stop_all()
        remove_private_cluster(workdir / "run")


def server_states(demo: Demo) -> dict[str, dict[str, str]]:
    """The stats page's CSV rows of the gateways backend, by server name."""
    text = httpx.get(f"{demo.stats}/;csv", auth=AUTH, timeout=5).text.lstrip("# ")
    rows = csv.DictReader(io.StringIO(text))
    return {row["svname"]: row for row in rows if row["pxname"] == "gateways"}


# HAProxy keeps an answer for its max-age, 1 s: on a busy machine two requests in a row may
# straddle an expiry, so each check below is tried until a pair falls within one second.


def cached_pair(url: str, conditional: bool) -> tuple[httpx.Response, httpx.Response] | None:
    """A request and the same one again (with the first's tag if ``conditional``), if the
    second came from the cache."""
    first = httpx.get(url, timeout=5)
    headers = {"If-None-Match": first.headers["etag"]} if conditional else {}
    second = httpx.get(url, headers=headers, timeout=5)
    return (first, second) if second.headers["x-cache"] == "HIT" else None


def test_the_cache_answers_and_turns_if_none_match_into_304(demo: Demo):
    url = f"{demo.api}/api/v1/courses?exchanger=coingecko"
    first, hit = wait_for(lambda: cached_pair(url, conditional=False), 20, what="a cache hit")
    assert hit.status_code == 200 and hit.content == first.content
    _, not_modified = wait_for(lambda: cached_pair(url, conditional=True), 20, what="a 304 hit")
    assert not_modified.status_code == 304
    assert "content-length" not in not_modified.headers
    assert not_modified.content == b""


def filled_on_a_miss(demo: Demo) -> tuple[httpx.Response, httpx.Response] | None:
    """A conditional miss on a query nothing cached yet, and the conditional request after it,
    if the cache answered that one."""
    path = f"/api/v1/courses?exchanger=coingecko&fill={uuid.uuid4().hex}"
    replica = f"http://127.0.0.1:{demo.gateway_ports[0]}"
    current = httpx.get(f"{replica}{path}", timeout=5).headers["etag"]
    # Asked directly, a replica answers a current tag with an empty 304: nothing to cache...
    direct = httpx.get(f"{replica}{path}", headers={"If-None-Match": current}, timeout=5)
    assert direct.status_code == 304
    # ...so on a miss HAProxy asks without the tag, stores the full answer...
    miss = httpx.get(f"{demo.api}{path}", headers={"If-None-Match": current}, timeout=5)
    assert miss.status_code == 200 and miss.headers["x-cache"] == "MISS"
    # ...and the next conditional request is answered by the cache.
    again = httpx.get(f"{demo.api}{path}", headers={"If-None-Match": miss.headers["etag"]})
    return (miss, again) if again.headers["x-cache"] == "HIT" else None


def test_the_cache_fills_when_every_client_sends_if_none_match(demo: Demo):
    _, again = wait_for(lambda: filled_on_a_miss(demo), 20, what="a hit after the fill")
    assert again.status_code == 304


def test_the_stats_page_wants_credentials_and_serves_no_exporter(demo: Demo):
    assert httpx.get(f"{demo.stats}/", timeout=5).status_code == 401
    assert httpx.get(f"{demo.stats}/", auth=("admin", "wrong"), timeout=5).status_code == 401
    assert httpx.get(f"{demo.stats}/", auth=AUTH, timeout=5).status_code == 200
    # The exporter is served only where Prometheus reads it (its own port, when Prometheus
    # runs: tests/monitoring), never on the stats port.
    assert httpx.get(f"{demo.stats}/metrics", timeout=5).status_code == 401
    metrics = httpx.get(f"{demo.stats}/metrics", auth=AUTH, timeout=5)
    assert "haproxy_backend_active_servers" not in metrics.text


#: Answered on the replicas' own addresses (Prometheus, HAProxy's checks), never on 8080.
INTERNAL = ["/metrics", "/healthz", "/readyz", "/api/v1/sources", "/api/v1/sources/"]
PUBLIC = ["/api/v1/courses", "/courses", "/docs", "/openapi.json", "/docs/assets/swagger-ui.css"]


def raw_get(port: int, target: str) -> int:
    """The status of ``GET target`` sent as is (httpx would resolve dot segments first)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(
            f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        head = connection.recv(64).decode("latin-1")
    return int(head.split()[1])


def test_the_public_port_serves_the_api_and_its_docs_only(demo: Demo):
    replica = f"http://127.0.0.1:{demo.gateway_ports[0]}"
    for path in INTERNAL:
        assert httpx.get(f"{demo.api}{path}", timeout=5).status_code == 404, path
    for path in ("/metrics", "/healthz", "/readyz", "/api/v1/sources"):
        assert httpx.get(f"{replica}{path}", timeout=5).status_code == 200, path
    for path in PUBLIC:
        assert httpx.get(f"{demo.api}{path}", timeout=5).status_code == 200, path
    # However the path is spelt, as the replicas would read it.
    port = int(demo.env["STACK_HAPROXY_PORT"])
    for target in ("/api/v1/%73ources", "/api%2Fv1%2Fsources", "/api/v1/courses/../../metrics"):
        assert raw_get(port, target) == 404, target
    assert raw_get(port, "/api/v1/courses?direction=BTC-USD") == 200
    assert httpx.get(f"{demo.api}/metrics", timeout=5).json() == {"detail": "Not Found"}


def test_oversized_requests_are_refused(demo: Demo):
    huge = httpx.get(f"{demo.api}/api/v1/courses", headers={"X-Big": "x" * 9000}, timeout=5)
    assert huge.status_code in (400, 431)
    long_line = httpx.get(f"{demo.api}/api/v1/courses?direction={'A' * 9000}", timeout=5)
    assert long_line.status_code in (400, 414, 431)


def test_a_killed_replica_costs_at_most_the_requests_in_flight(demo: Demo):
    load = Load(f"{demo.api}/api/v1/courses", concurrency=16)
    wait_for(lambda: len(load.outcomes) >= 200, 30, what="the load flowing")
    killed_at, killed = time.monotonic(), demo.pid("gateway-1")
    subprocess.run(["kill", "-9", str(killed)], check=True)
    # supervisord restarts it (often before HAProxy's checks have marked it down); HAProxy
    # sends it traffic again once /readyz says so.
    wait_for(lambda: demo.pid("gateway-1") not in (0, killed), 30, what="gateway-1 restarted")
    wait_for(lambda: all_served(f"http://127.0.0.1:{demo.gateway_ports[0]}"), 30, what="serving")
    sessions = int(server_states(demo)["gateway-1"]["stot"])

    def in_rotation() -> bool:
        state = server_states(demo)["gateway-1"]
        return state["status"] == "UP" and int(state["stot"]) > sessions

    wait_for(in_rotation, 30, what="HAProxy sending it traffic again")
    back_at = time.monotonic()
    outcomes = load.stop()
    failed = [o for o in outcomes if o.status != 200]
    print(
        f"gateway-1 killed under load: {len(failed)} failed of {len(outcomes)} requests "
        f"({in_flight(outcomes, killed_at)} in flight at the kill); back in rotation "
        f"{back_at - killed_at:.1f} s later"
    )
    assert len(failed) <= in_flight(outcomes, killed_at)
    # HAProxy logged the requests it retried on gateway-2, and none that simply succeeded.
    logged = requests(demo.process.output())
    assert any(r.retries.startswith("+") for r in logged), "no redispatched request logged"
    assert not [r for r in logged if r.succeeded_plainly]


def all_fresh_from_binance(demo: Demo) -> bool:
    """Both replicas serve every direction fresh from Binance (a replica restarted by an
    earlier test starts from stored, stale values)."""
    for port in demo.gateway_ports:
        try:
            body = httpx.get(f"http://127.0.0.1:{port}/api/v1/courses", timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return False
        if len(body.get("courses", [])) != 8 or exchangers(body) != {("binance", False)}:
            return False
    return True


def test_a_killed_forwarder_costs_no_freshness(demo: Demo):
    wait_for(lambda: all_fresh_from_binance(demo), 30, what="every direction fresh")
    poller = ApiPoller(f"{demo.api}/api/v1/courses?x=forwarder", interval=0.05)
    try:
        wait_for(lambda: len(poller.answers()) >= 5, 10, what="answers")
        killed_at, killed = time.monotonic(), demo.pid("forwarder-1")
        subprocess.run(["kill", "-9", str(killed)], check=True)
        wait_for(lambda: demo.pid("forwarder-1") not in (0, killed), 30, what="restarted")
        # Answers over longer than the 4 s a Binance value stays fresh without news.
        wait_for(
            lambda: poller.latest().at - killed_at > 6,
            30,
            what="answers over 6 s since the kill",
        )
        answers = poller.answers(since=killed_at)
    finally:
        poller.stop()
    print(f"forwarder-1 killed: {len(answers)} answers meanwhile, all fresh from binance")
    assert answers and all(a.status == 200 for a in answers)
    assert all(exchangers(a.body) == {("binance", False)} for a in answers), [
        (round(a.at - killed_at, 2), exchangers(a.body))
        for a in answers
        if exchangers(a.body) != {("binance", False)}
    ][:5]
    stamps = [a.courses[0]["updated_at"] for a in answers]
    assert len(set(stamps)) > 5  # prices kept moving throughout
