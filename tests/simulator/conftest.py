from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from harness.procs import ProcessGroup
from harness.stack import Sim, start_sim

T = TypeVar("T")

#: Fast clocks so the suite runs in seconds; tests that need other values start their own.
FAST = {
    "SIM_TICK_INTERVAL": "0.1",
    # Pongs count against the 5 messages a second: keep pings rare unless a test is about them.
    "SIM_PING_INTERVAL": "5",
    "SIM_PONG_TIMEOUT": "10",
    "SIM_SHUTDOWN_GRACE": "0.5",
    "SIM_COINGECKO_CACHE_SECONDS": "60",
    # The budgets are tested in processes of their own; elsewhere they stay out of the way.
    "SIM_COINGECKO_RATE_LIMIT": "1000",
    "SIM_FAULT_RETRY_AFTER": "7",
}


@pytest.fixture(scope="module", name="sim_env")
def sim_env_fixture() -> dict[str, str]:
    """Settings of the module's shared simulator beyond ``FAST``; a module may override it."""
    return {}


@pytest.fixture(scope="module", name="shared_sim")
def shared_sim_fixture(
    tmp_path_factory: pytest.TempPathFactory, sim_env: dict[str, str]
) -> Iterator[Sim]:
    """One simulator for a whole test module (clean faults are each test's job: use ``sim``)."""
    group = ProcessGroup(tmp_path_factory.mktemp("simulator"))
    try:
        yield start_sim(group, **{**FAST, **sim_env})
    finally:
        group.stop_all()


@pytest.fixture
def sim(shared_sim: Sim) -> Iterator[Sim]:
    """The module's simulator, with every fault cleared after the test."""
    yield shared_sim
    shared_sim.clear()


@pytest.fixture
def sim_factory(procs: ProcessGroup) -> Callable[..., Sim]:
    """Start a simulator of the test's own with particular settings."""
    return lambda **env: start_sim(procs, **{**FAST, **env})


async def until(probe: Callable[[], T], timeout: float, interval: float = 0.02) -> T:
    """Poll ``probe`` (sync or async) without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)
