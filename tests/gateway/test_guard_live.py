"""The guard end to end: the simulator skews Binance's prices (both transports), the feeders
carry them, and two gateway replicas on one mesh, one per policy, say what they see.

A skew of every Binance book cancels out where a direction divides by USDCUSDT
(BTC-USD = BTCUSDT / USDCUSDT) and shows where USDCUSDT stands alone: the four USDT directions,
served at 1 / (1 + skew) of CoinGecko's value.

Cancels out once it has landed: the legs of a cross rate arrive one tick at a time, and the two
transports are skewed by two requests, so for a moment BTC-USD may be a skewed BTCUSDT over a
USDCUSDT not yet skewed, 10 % off, and the guard says so (for milliseconds). The checks of
what the skew leaves alone start once it has reached both transports: a second (Binance REST's
polling interval) after the first answer showing it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import httpx
import pytest

from gateway.recipes import DIRECTIONS
from harness.procs import ProcessGroup, wait_for
from harness.stack import Gateway, Sim, start_feeder, start_forwarder, start_gateway, start_sim
from tests.api import Answer, ApiPoller, Body

pytestmark = pytest.mark.live

USDT = ("USDTTRC-USD", "USDTTRC-RUB", "USDTERC-USD", "USDTERC-RUB")
OTHERS = tuple(d for d in DIRECTIONS if d not in USDT)
BINANCE_TARGETS = ("binance-ws", "binance-rest")
#: The bound the issue sets, and how close the measured deviation must be to the arithmetic's.
WITHIN_SECONDS = 2.0
TOLERANCE = 0.005
#: From the first answer showing the skew until both transports surely deliver it.
LANDING = 1.0


@dataclass
class Stack:
    """The simulator, and one gateway per policy on the same mesh."""

    sim: Sim
    flag: Gateway
    prefer: Gateway

    def skew(self, percent: float, **extra: Any) -> float:
        """Skew both Binance transports; when the first injection was sent (monotonic)."""
        sent = time.monotonic()
        for target in BINANCE_TARGETS:
            self.sim.inject(target, "skew", percent=percent, **extra)
        return sent


@pytest.fixture(scope="module", name="stack")
def stack_fixture(tmp_path_factory) -> Iterator[Stack]:
    """Simulator, feeders, a forwarder, and a gateway per policy, for the module's tests."""
    group = ProcessGroup(tmp_path_factory.mktemp("guard"))
    stack = None
    try:
        sim = start_sim(group, SIM_TICK_INTERVAL="0.25", SIM_COINGECKO_CACHE_SECONDS="60")
        forwarder = start_forwarder(group)
        for transport in ("binance-ws", "binance-rest", "coingecko"):
            start_feeder(group, transport, sim, [forwarder])
        stack = Stack(
            sim,
            start_gateway(group, [forwarder], "gateway-flag"),
            start_gateway(group, [forwarder], "gateway-prefer", GUARD_POLICY="prefer-aggregate"),
        )
        for gateway in (stack.flag, stack.prefer):
            wait_for(partial(settled, gateway), 20, what=f"{gateway.process.name} settled")
    finally:
        if stack is None:  # the start failed: show why
            print(group.outputs())
            group.stop_all()
    yield stack
    group.stop_all()


def courses(gateway: Gateway) -> dict[str, Body]:
    response = httpx.get(f"{gateway.url}/api/v1/courses", timeout=5)
    if response.status_code != 200:
        return {}
    return {course["direction"]: course for course in response.json()["courses"]}


def settled(gateway: Gateway) -> bool:
    """Every direction from Binance, checked against CoinGecko, and none disputed."""
    served = courses(gateway)
    return len(served) == 8 and all(
        c["exchanger"] == "binance" and "deviation" in c and not c["disputed"]
        for c in served.values()
    )


@pytest.fixture(name="healthy")
def healthy_fixture(stack: Stack) -> Iterator[Stack]:
    stack.sim.clear()
    for gateway in (stack.flag, stack.prefer):
        wait_for(partial(settled, gateway), 15, what="no dispute")
    yield stack
    stack.sim.clear()


def by_direction(answer: Answer) -> dict[str, Body]:
    return {course["direction"]: course for course in answer.courses}


def disputed_ones(answer: Answer) -> set[str]:
    return {d for d, c in by_direction(answer).items() if c["disputed"]}


def usdt_disputed(poller: ApiPoller) -> bool:
    """The latest answer has every USDT direction disputed, and only those."""
    return disputed_ones(poller.latest()) == set(USDT)


def poll(gateway: Gateway) -> ApiPoller:
    return ApiPoller(f"{gateway.url}/api/v1/courses", interval=0.05)


#: Per policy, who serves the USDT directions under a 10 % skew of Binance and their deviation:
#: Binance serves 1 / USDCUSDT, divided by the skew; CoinGecko's value is 1.1 times that.
SKEWED = {"flag": ("binance", 1 / 1.1 - 1), "prefer": ("coingecko", 0.1)}


def check_landed(policy: str, served: dict[str, Body]) -> None:
    """One answer once the skew has landed: the USDT directions disputed, served as the policy
    says at the predicted deviation; the others left alone (the skew cancels out in them)."""
    exchanger, predicted = SKEWED[policy]
    assert all(served[d]["exchanger"] == "binance" for d in OTHERS)
    assert not any(served[d]["disputed"] for d in OTHERS), served
    for direction in USDT:
        course = served[direction]
        assert course["disputed"] and course["exchanger"] == exchanger
        measured = float(course["deviation"])
        assert abs(measured - predicted) < TOLERANCE, (direction, measured)


def test_a_ten_percent_skew_disputes_the_usdt_directions_within_two_seconds(healthy: Stack):
    pollers = {"flag": poll(healthy.flag), "prefer": poll(healthy.prefer)}
    try:
        sent = healthy.skew(10, seconds=60)
        for poller in pollers.values():
            wait_for(partial(usdt_disputed, poller), 10, what="disputed")
        time.sleep(LANDING + 1.0)  # a second of answers once the skew has landed
    finally:
        for poller in pollers.values():
            poller.stop()
    for policy, poller in pollers.items():
        answers = [a for a in poller.answers(sent) if a.status == 200]
        first = next(a for a in answers if disputed_ones(a) == set(USDT))
        took = first.at - sent
        print(f"{policy}: every USDT direction disputed {took:.3f} s after the skew was sent")
        assert took < WITHIN_SECONDS
        landed = [by_direction(a) for a in answers if a.at >= first.at + LANDING]
        assert len(landed) >= 5
        for served in landed:
            check_landed(policy, served)
        largest = max(abs(float(served[d]["deviation"])) for served in landed for d in OTHERS)
        print(f"{policy}: the others' largest deviation meanwhile {largest:.4%}")
        print(
            f"{policy}: deviation "
            + ", ".join(f"{d} {float(landed[-1][d]['deviation']):+.4%}" for d in USDT)
            + f" (predicted {SKEWED[policy][1]:+.4%})"
        )


def test_prefer_aggregate_returns_to_binance_when_the_skew_ends(healthy: Stack):
    healthy.skew(10)
    wait_for(
        lambda: {d for d, c in courses(healthy.prefer).items() if c["exchanger"] == "coingecko"}
        == set(USDT),
        10,
        what="USDT directions on CoinGecko",
    )
    cleared = time.monotonic()
    healthy.sim.clear()
    wait_for(lambda: settled(healthy.prefer), 10, what="back on Binance")
    print(f"prefer-aggregate: back on Binance {time.monotonic() - cleared:.3f} s after the clear")
    assert settled(healthy.flag)


def test_the_dispute_is_logged_once_and_shown_in_the_metrics(healthy: Stack):
    process = healthy.flag.process
    healthy.skew(10)
    wait_for(lambda: set(USDT) <= disputed_ones_now(healthy.flag), 10, what="disputed")
    time.sleep(LANDING)
    landed = len(warned(process.output()))
    time.sleep(2.0)  # eight market steps and two REST polls: no new warning for them
    assert len(warned(process.output())) == landed
    metrics = httpx.get(f"{healthy.flag.url}/metrics", timeout=5).text
    for direction in USDT:
        assert f'rates_direction_disputed{{direction="{direction}"}} 1.0' in metrics
    assert 'rates_direction_disputed{direction="BTC-USD"} 0.0' in metrics
    deviation = re.search(r'rates_direction_deviation\{direction="USDTTRC-USD"\} (\S+)', metrics)
    assert deviation and abs(float(deviation[1]) - (1 / 1.1 - 1)) < TOLERANCE
    assert re.search(r'rates_direction_disputes_total\{direction="USDTTRC-USD"\} [1-9]', metrics)
    before_clear = len(process.output())
    healthy.sim.clear()
    wait_for(lambda: settled(healthy.flag), 10, what="cleared")
    cleared = re.findall(r"INFO .* (\S+) no longer disputed", process.output()[before_clear:])
    assert set(cleared) >= set(USDT)


def warned(output: str) -> list[str]:
    """The directions of every "became disputed" WARNING in ``output``."""
    return re.findall(r"WARNING .* (\S+) disputed: served by", output)


def disputed_ones_now(gateway: Gateway) -> set[str]:
    return {d for d, c in courses(gateway).items() if c["disputed"]}


def test_a_skew_below_the_threshold_disputes_nothing(healthy: Stack):
    poller = poll(healthy.flag)
    try:
        sent = healthy.skew(1)

        def skew_seen() -> bool:
            served = by_direction(poller.latest())
            return bool(served) and all(
                abs(float(served[d]["deviation"]) - (1 / 1.01 - 1)) < 0.002 for d in USDT
            )

        wait_for(skew_seen, 10, what="the 1 % skew served")
        time.sleep(1.0)
    finally:
        poller.stop()
    answers = [a for a in poller.answers(sent) if a.status == 200]
    assert answers and not any(disputed_ones(a) for a in answers)
