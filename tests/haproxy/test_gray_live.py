"""Gray failures through HAProxy under a steady load, the cache on and off: a process that hangs
(frozen with SIGSTOP for 10 s) or a replica that answers slowly costs no client an error, nor
the wait of a server timeout, and the book stays fresh.

The load is wrk (harness/wrk.py: a Python client on a busy machine times its own stalls).
Each test prints its figures (the README's fault table); the asserts are what holds on a busy
machine: no failed request, none as slow as a second (a request that waited for a frozen
replica used to take the 3 s of ``timeout server``), a hung replica out of rotation within 1 s
and back within 3 s of thawing, every answer fresh, no tick lost.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from harness.gray import ServerStates, descendants, frozen, slowed
from harness.procs import ProcessGroup, wait_for
from harness.stack import Demo, remove_private_cluster, start_demo
from harness.wrk import SteadyLoad, WrkFigures
from tests.api import Answer, ApiPoller, exchangers
from tests.haproxy.loglines import requests

pytestmark = pytest.mark.live
AUTH = ("admin", "test-password")
FREEZE = 10.0  #: seconds a process stays frozen
BEFORE, AFTER = 2.0, 4.0  #: seconds of load before the fault and after it ends
SLOWEST_MS = 1000.0  #: no request through HAProxy may take this long


@dataclass(frozen=True)
class Stack:
    """A demo stack under test, its cache setting, and HAProxy's view of its replicas."""

    demo: Demo
    cache: str
    states: ServerStates
    workdir: Path

    def load(self) -> SteadyLoad:
        """The steady load over a whole run: with the cache on, every client asks the same
        thing (the cache answers; a miss a second reaches a replica); off, each request
        reaches a replica."""
        return SteadyLoad(
            f"{self.demo.api}/api/v1/courses",
            int(BEFORE + FREEZE + AFTER),
            self.workdir,
            bust_cache=self.cache == "off",
        )

    def replica(self, number: int) -> str:
        return f"http://127.0.0.1:{self.demo.gateway_ports[number - 1]}"


@pytest.fixture(scope="module", name="stack", params=["on", "off"], ids=["cache on", "cache off"])
def stack_fixture(request, tmp_path_factory) -> Iterator[Stack]:
    """The demo stack with the cache on or off, its replicas open to delay injection."""
    workdir = tmp_path_factory.mktemp(f"gray-cache-{request.param}")
    group = ProcessGroup(workdir)
    states: ServerStates | None = None
    try:
        demo = start_demo(
            group, workdir / "run", HAPROXY_CACHE=request.param, GATEWAY_FAULT_INJECTION="true"
        )
        states = ServerStates(demo.stats, AUTH, "gateways")
        yield Stack(demo, request.param, states, workdir)
    finally:
        if states is not None:
            states.stop()
        group.stop_all()
        remove_private_cluster(workdir / "run")


def fresh_from_binance(url: str) -> bool:
    try:
        body = httpx.get(url, timeout=2).json()
    except (httpx.HTTPError, ValueError):
        return False
    return len(body.get("courses", [])) == 8 and exchangers(body) == {("binance", False)}


def settled(stack: Stack) -> None:
    """Both replicas in rotation, serving every direction fresh from Binance."""
    wait_for(
        lambda: all(stack.states.status(f"gateway-{n}") == "UP" for n in (1, 2)),
        30,
        what="both replicas up",
    )
    urls = [f"{stack.replica(number)}/api/v1/courses" for number in (1, 2)]
    wait_for(lambda: all(map(fresh_from_binance, urls)), 30, what="both replicas fresh")


def hold(seconds: float) -> None:
    """Let ``seconds`` pass: a fault's length, or load before it (nothing to wait for)."""
    threading.Event().wait(max(0.0, seconds))


@dataclass(frozen=True)
class Run:
    """What one fault under load gave."""

    began: float  #: monotonic s
    ended: float
    load: WrkFigures
    answers: list[Answer]  #: polled through HAProxy from the fault's start on


def under_load(stack: Stack, what: str, fault: Callable[[], AbstractContextManager[object]]) -> Run:
    """``fault`` on for FREEZE s in the middle of a steady load (and an answer poller)."""
    load = stack.load()
    poller = ApiPoller(f"{stack.demo.api}/api/v1/courses?poll=1", interval=0.05)
    try:
        hold(BEFORE)
        began = time.monotonic()
        with fault():
            hold(FREEZE - (time.monotonic() - began))
        ended = time.monotonic()
        figures = load.figures()
    finally:
        poller.stop()
        load.stop()
    print(f"\n[cache {stack.cache}] {what}: {figures}", end="")
    return Run(began, ended, figures, poller.answers(since=began))


def assert_no_client_noticed(run: Run) -> None:
    assert run.load.failed == 0, run.load
    assert run.load.max_ms < SLOWEST_MS, run.load
    assert run.answers and all(a.status == 200 for a in run.answers)


def assert_fresh_throughout(answers: list[Answer]) -> None:
    assert all(exchangers(a.body) == {("binance", False)} for a in answers), [
        exchangers(a.body) for a in answers if exchangers(a.body) != {("binance", False)}
    ][:3]
    stamps = {a.courses[0]["updated_at"] for a in answers}
    assert len(stamps) > FREEZE  # prices kept moving throughout (a step every 0.5 s or so)


def rotation(stack: Stack, run: Run, server: str = "gateway-1") -> tuple[float, float]:
    """Seconds from the fault's start until ``server`` was out of rotation, and from its end
    until it was back."""
    out = stack.states.first(server, "DOWN", run.began)
    back = wait_for(lambda: stack.states.back_up(server, run.began), 10, what=f"{server} up")
    assert out is not None
    print(f"; out of rotation {out - run.began:.2f} s, back {back - run.ended:.2f} s", end="")
    return out - run.began, back - run.ended


def test_a_frozen_replica_is_out_of_rotation_within_1_s_and_costs_no_client(stack: Stack):
    settled(stack)
    pids = [stack.demo.pid("gateway-1")]
    logged_before = len(stack.demo.process.output())
    run = under_load(stack, "gateway-1 frozen", lambda: frozen(pids))
    out, back = rotation(stack, run)
    assert_no_client_noticed(run)
    assert out <= 1.0
    assert back <= 3.0
    # Every request the frozen replica held up is in HAProxy's log, with its timings: sent to
    # gateway-2 after gateway-1's 50 ms, answered well within a second.
    retried = [r for r in requests(stack.demo.process.output()[logged_before:]) if r.retries != "0"]
    print(f"; {len(retried)} requests retried on gateway-2", end="")
    assert all(r.server == "gateways/gateway-2" and r.status == 200 for r in retried)
    assert all(int(r.timings.split("/")[-1]) < SLOWEST_MS for r in retried)
    if stack.cache == "off":  # with the cache on, a miss may not have met the frozen replica
        assert retried


def test_a_slow_replica_costs_no_client(stack: Stack):
    settled(stack)
    # Never through the public port.
    through = httpx.put(f"{stack.demo.api}/_control/delay", json={"milliseconds": 1}, timeout=5)
    assert through.status_code == 404
    run = under_load(
        stack, "gateway-1 answering 500 ms late", lambda: slowed(stack.replica(1), 500)
    )
    out, back = rotation(stack, run)
    assert_no_client_noticed(run)
    assert out <= 1.0
    assert back <= 3.0


def test_a_frozen_forwarder_leaves_the_book_fresh(stack: Stack):
    settled(stack)
    pids = [stack.demo.pid("forwarder-1")]
    run = under_load(stack, "forwarder-1 frozen", lambda: frozen(pids))
    assert_no_client_noticed(run)
    assert_fresh_throughout(run.answers)


def binance_transports(stack: Stack, since_ms: int) -> set[str]:
    """Which transports delivered the binance values gateway-1 holds, of those whose
    exchange time is after ``since_ms``; "old" for the others."""
    instruments = httpx.get(f"{stack.replica(1)}/api/v1/sources", timeout=5).json()["instruments"]
    return {
        i["transport"] if _ms(i["exchange_time"]) > since_ms else "old"
        for i in instruments
        if i["source"] == "binance"
    }


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_a_frozen_feeder_is_replaced_by_the_next_transport(stack: Stack):
    settled(stack)
    pids = [stack.demo.pid("feeder-binance-ws")]
    took_over: list[float] = []

    def freeze_and_watch() -> AbstractContextManager[object]:
        @contextlib.contextmanager
        def watched() -> Iterator[None]:
            with frozen(pids) as at:
                since = int(time.time() * 1000)
                wait_for(
                    lambda: binance_transports(stack, since) == {"binance-rest"},
                    FREEZE,
                    what="binance carried by binance-rest alone",
                )
                took_over.append(time.monotonic() - at)
                yield

        return watched()

    run = under_load(stack, "feeder-binance-ws frozen", freeze_and_watch)
    print(f"; binance-rest alone after {took_over[0]:.2f} s", end="")
    assert_no_client_noticed(run)
    assert_fresh_throughout(run.answers)
    # Thawed, the websocket carries Binance again.
    since = int(time.time() * 1000)
    wait_for(lambda: "binance-ws" in binance_transports(stack, since), 15, what="ws back")


Writer = dict[str, int]


def writers(stack: Stack) -> list[Writer]:
    """Both replicas' writers' counts (gateway/writer.py's WriterStats, and pending)."""
    return [
        httpx.get(f"{stack.replica(n)}/api/v1/sources", timeout=5).json()["writer"] for n in (1, 2)
    ]


def caught_up(now: list[Writer], then: list[Writer]) -> bool:
    """Every tick given to a writer by ``then`` is in the database ``now``: stored by this
    replica or found stored by the other one."""
    return all(
        n["stored"] + n["already_stored"] >= t["submitted"] - t["copies_skipped"]
        for n, t in zip(now, then)
    )


def test_a_frozen_database_costs_no_client_and_no_tick(stack: Stack):
    settled(stack)
    pids = descendants(stack.demo.pid("postgres"))
    before = writers(stack)
    at_thaw: list[list[Writer]] = []

    @contextlib.contextmanager
    def freeze_and_watch() -> Iterator[None]:
        with frozen(pids):
            # The writers hold what they cannot store...
            wait_for(lambda: all(w["pending"] > 0 for w in writers(stack)), FREEZE, what="held")
            yield
            at_thaw.append(writers(stack))

    run = under_load(stack, "PostgreSQL frozen", freeze_and_watch)
    # ...and once it thaws, store all of it.
    wait_for(lambda: caught_up(writers(stack), at_thaw[0]), 30, what="everything stored")
    after = writers(stack)
    held = sum(w["pending"] for w in at_thaw[0])
    print(f"; {held} ticks held at the thaw, all stored", end="")
    assert_no_client_noticed(run)
    for key in ("dropped", "refused"):
        assert [w[key] for w in after] == [w[key] for w in before], key
    assert held > 0
