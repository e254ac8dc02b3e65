"""The gateway end to end: simulator -> feeders -> two forwarders -> two gateway replicas."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import httpx
import pytest

from gateway.recipes import DIRECTIONS
from harness.procs import ProcessGroup, wait_for
from harness.stack import (
    Forwarder,
    Gateway,
    Sim,
    start_feeder,
    start_forwarder,
    start_gateway,
    start_sim,
)
from tests.api import ApiPoller, exchangers, first_time

pytestmark = pytest.mark.live

GATEWAY_ENV = {"FRESHNESS_COINGECKO_SECONDS": "5", "FRESHNESS_FIAT_SECONDS": "5"}


@dataclass
class Stack:
    """The running processes of one test module."""

    sim: Sim
    forwarders: list[Forwarder]
    gateways: list[Gateway]

    def get(self, path: str, replica: int = 0, **kwargs) -> httpx.Response:
        return httpx.get(f"{self.gateways[replica].url}{path}", timeout=5, **kwargs)

    def all_binance(self) -> bool:
        response = self.get("/api/v1/courses")
        return (
            response.status_code == 200
            and exchangers(response.json()) == {("binance", False)}
            and len(response.json()["courses"]) == 8
        )

    def feeders_flowing(self) -> bool:
        feeders = self.get("/api/v1/sources").json()["feeders"]
        transports = {f["transport"] for f in feeders if _flowing(f)}
        return transports == {"binance-ws", "binance-rest", "coingecko"}


def _flowing(feeder: dict[str, Any]) -> bool:
    return feeder["connected"] and (feeder["last_message_age_ms"] or 10**9) < 2000


@pytest.fixture(scope="module", name="stack")
def stack_fixture(tmp_path_factory) -> Iterator[Stack]:
    """The whole ingest and serving path, shared by the module's tests."""
    group = ProcessGroup(tmp_path_factory.mktemp("stack"))
    try:
        sim = start_sim(group, SIM_TICK_INTERVAL="0.5", SIM_COINGECKO_CACHE_SECONDS="60")
        forwarders = [start_forwarder(group, f"forwarder-{n}") for n in (1, 2)]
        for transport in ("binance-ws", "binance-rest", "coingecko"):
            start_feeder(group, transport, sim, forwarders)
        gateways = [start_gateway(group, forwarders, f"gateway-{n}", **GATEWAY_ENV) for n in (1, 2)]
        running = Stack(sim, forwarders, gateways)
        wait_for(running.all_binance, 15, what="all eight directions from binance")
        yield running
    except BaseException:
        print(group.outputs())
        raise
    finally:
        group.stop_all()


@pytest.fixture(name="healthy")
def healthy_fixture(stack: Stack) -> Iterator[Stack]:
    """The stack with no faults, every feeder delivering, everything served from binance."""
    stack.sim.clear()
    wait_for(stack.all_binance, 15, what="back to binance")
    wait_for(stack.feeders_flowing, 15, what="every feeder connected and delivering")
    yield stack
    stack.sim.clear()


def test_503_and_not_ready_before_any_data(procs: ProcessGroup):
    forwarder = start_forwarder(procs)
    gateway = start_gateway(procs, [forwarder])
    response = httpx.get(f"{gateway.url}/api/v1/courses", timeout=5)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "no rate known yet" in response.json()["detail"]
    assert httpx.get(f"{gateway.url}/courses?base=BTC", timeout=5).status_code == 503
    ready = httpx.get(f"{gateway.url}/readyz", timeout=5)
    assert ready.status_code == 503 and ready.json()["reason"] == "no rates yet"
    assert httpx.get(f"{gateway.url}/healthz", timeout=5).status_code == 200


def test_all_eight_directions_priced_from_the_simulators_prices(healthy: Stack):
    body = healthy.get("/api/v1/courses").json()
    assert body["exchanger"] == "binance"
    assert [c["direction"] for c in body["courses"]] == list(DIRECTIONS)
    held = {
        (i["source"], i["instrument"]): Decimal(i["price"])
        for i in healthy.get("/api/v1/sources").json()["instruments"]
    }
    state = healthy.sim.state()
    sim_usd = Decimal(state["binance"]["BTCUSDT"]) / Decimal(state["binance"]["USDCUSDT"])
    by_direction = {c["direction"]: Decimal(str(c["value"])) for c in body["courses"]}
    # Close to the simulator's current prices (they move between the two requests)...
    assert abs(by_direction["BTC-USD"] / sim_usd - 1) < Decimal("0.01")
    usd_rub = Decimal(state["usd_rub"])
    assert abs(by_direction["BTC-RUB"] / (sim_usd * usd_rub) - 1) < Decimal("0.02")
    assert abs(by_direction["USDTTRC-USD"] - 1) < Decimal("0.01")
    # ...and for the USD-RUB leg, exactly CoinGecko's ratio, as the recipe says.
    usd_rub_leg = held[("coingecko", "bitcoin.rub")] / held[("coingecko", "bitcoin.usd")]
    assert abs(by_direction["ETH-RUB"] / by_direction["ETH-USD"] / usd_rub_leg - 1) < Decimal(
        "0.01"
    )
    assert all(c["via"] == ["coingecko"] for c in body["courses"] if c["direction"][-3:] == "RUB")


def test_both_replicas_give_the_same_tag_for_the_same_rates(healthy: Stack):
    matches = 0
    for _ in range(40):
        first, second = healthy.get("/api/v1/courses", 0), healthy.get("/api/v1/courses", 1)
        same_body = first.content == second.content
        assert same_body == (first.headers["etag"] == second.headers["etag"])
        matches += same_body
    assert matches >= 10
    stable = [healthy.get("/api/v1/courses?exchanger=coingecko", n) for n in (0, 1)]
    assert stable[0].headers["etag"] == stable[1].headers["etag"]


def test_if_none_match_gives_304(healthy: Stack):
    path = "/api/v1/courses?exchanger=coingecko"  # CoinGecko values change once a minute
    first = healthy.get(path)
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=1"
    for header in (tag, f"W/{tag}", f'"nope", {tag}', "*"):
        again = healthy.get(path, replica=1, headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.content == b""
        assert again.headers["etag"] == tag
    assert healthy.get(path, headers={"If-None-Match": '"nope"'}).status_code == 200


def test_filters(healthy: Stack):
    def directions(query: str) -> list[str]:
        response = healthy.get(f"/courses?{query}")
        assert response.status_code == 200, response.text
        return [c["direction"] for c in response.json()["courses"]]

    assert directions("direction=ETH-RUB,BTC-USD") == ["BTC-USD", "ETH-RUB"]
    assert directions("direction=ETH-RUB&direction=BTC-USD") == ["BTC-USD", "ETH-RUB"]
    assert directions("base=USDTERC") == ["USDTERC-USD", "USDTERC-RUB"]
    assert directions("quote=RUB&base=ETH") == ["ETH-RUB"]
    body = healthy.get("/courses?exchanger=coingeko&quote=USD").json()
    assert body["exchanger"] == "coingecko"
    assert exchangers(body) == {("coingecko", False)}
    assert len(body["courses"]) == 4


@pytest.mark.parametrize(
    "query,listed",
    [
        ("direction=BTC-EUR", "BTC-USD, BTC-RUB, ETH-USD"),
        ("base=DOGE", "BTC, ETH, USDTTRC, USDTERC"),
        ("quote=EUR", "USD, RUB"),
        ("exchanger=kraken", "binance, coingecko, coingeko"),
    ],
)
def test_invalid_values_are_422_listing_the_valid_ones(healthy: Stack, query, listed):
    response = healthy.get(f"/api/v1/courses?{query}")
    assert response.status_code == 422
    assert listed in response.json()["detail"]


def test_no_client_input_gives_a_500(healthy: Stack):
    nasty = [
        "direction=%00",
        "direction=" + "x" * 5000,
        "base=%ff%fe",
        "exchanger=binance&exchanger=coingecko",
        "direction=BTC-USD&base=ETH",
        "%%%",
        "direction[]=BTC-USD",
    ]
    for query in nasty:
        assert healthy.get(f"/api/v1/courses?{query}").status_code in (200, 422), query
    odd_headers = {"If-None-Match": 'W/"unterminated, *, ""'}
    assert healthy.get("/api/v1/courses", headers=odd_headers).status_code in (200, 304)


def test_openapi_documents_the_versioned_api(healthy: Stack):
    assert healthy.get("/docs").status_code == 200
    spec = healthy.get("/openapi.json").json()
    parameters = {p["name"] for p in spec["paths"]["/api/v1/courses"]["get"]["parameters"]}
    assert {"direction", "base", "quote", "exchanger"} <= parameters


def _binance_transports(stack: Stack, since: datetime) -> list[str]:
    """Which transport delivered each binance value held, counting only values newer than
    ``since`` (older ones count as "old")."""
    return [
        i["transport"] if datetime.fromisoformat(i["exchange_time"]) > since else "old"
        for i in stack.get("/api/v1/sources").json()["instruments"]
        if i["source"] == "binance"
    ]


def _feeder_connected(stack: Stack, transport: str) -> bool:
    feeders = stack.get("/api/v1/sources").json()["feeders"]
    return any(f["connected"] for f in feeders if f["transport"] == transport)


def test_websocket_stalled_binance_rest_takes_over(healthy: Stack):
    poller = ApiPoller(f"{healthy.gateways[0].url}/api/v1/courses")
    try:
        injected, injected_at = time.monotonic(), datetime.now(timezone.utc)
        healthy.sim.inject("binance-ws", "stall", seconds=30)
        wait_for(
            lambda: _binance_transports(healthy, injected_at) == ["binance-rest"] * 3,
            15,
            what="every binance value from binance-rest",
        )
        taken_over = time.monotonic() - injected
        # The websocket feeder's watchdog notices the stall and it says so; binance-rest still
        # carries Binance alone.
        wait_for(lambda: not _feeder_connected(healthy, "binance-ws"), 15, what="ws down")
        assert _binance_transports(healthy, injected_at) == ["binance-rest"] * 3
        answers = poller.answers(since=injected)
    finally:
        poller.stop()
    print(f"binance-ws stalled: binance-rest alone carries binance after {taken_over:.2f} s")
    assert all(a.status == 200 for a in answers)
    assert all(exchangers(a.body) == {("binance", False)} for a in answers)


def test_all_binance_down_coingecko_serves_and_binance_comes_back(healthy: Stack):
    poller = ApiPoller(f"{healthy.gateways[1].url}/api/v1/courses")
    try:
        injected = time.monotonic()
        healthy.sim.inject("binance-ws", "stall", seconds=30)
        healthy.sim.inject("binance-rest", "5xx", seconds=30)
        wait_for(
            lambda: exchangers(poller.latest().body) == {("coingecko", False)},
            10,
            what="coingecko",
        )
        failover = (
            first_time(poller.answers(injected), lambda b: exchangers(b) == {("coingecko", False)})
            - injected
        )
        cleared = time.monotonic()
        healthy.sim.clear()
        wait_for(
            lambda: exchangers(poller.latest().body) == {("binance", False)}, 15, what="binance"
        )
        back = (
            first_time(poller.answers(cleared), lambda b: exchangers(b) == {("binance", False)})
            - cleared
        )
        answers = poller.answers(since=injected)
    finally:
        poller.stop()
    print(f"all binance down: coingecko after {failover:.2f} s; binance back {back:.2f} s after")
    assert all(a.status == 200 for a in answers), {a.status for a in answers}
    assert all(len(a.courses) == 8 for a in answers)


def test_everything_down_serves_values_marked_stale(healthy: Stack):
    poller = ApiPoller(f"{healthy.gateways[0].url}/api/v1/courses")
    try:
        injected = time.monotonic()
        for target, fault in (
            ("binance-ws", "stall"),
            ("binance-rest", "5xx"),
            ("coingecko", "5xx"),
        ):
            healthy.sim.inject(target, fault, seconds=30)
        wait_for(
            lambda: {stale for _, stale in exchangers(poller.latest().body)} == {True},
            15,
            what="everything stale",
        )
        all_stale = time.monotonic() - injected
        answers = poller.answers(since=injected)
    finally:
        poller.stop()
    print(f"everything down: every course marked stale after {all_stale:.2f} s")
    assert all(a.status == 200 and len(a.courses) == 8 for a in answers), [
        (a.status, a.error, a.body) for a in answers if a.status != 200 or len(a.courses) != 8
    ][:3]
    assert all(isinstance(c["value"], float) for c in answers[-1].courses)
