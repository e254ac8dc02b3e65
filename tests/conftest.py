from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.ports import refusing_port
from harness.procs import ProcessGroup
from simulator.service import Simulator
from tests.simulator.inprocess import Sim, simulator_settings

pytest_plugins = ["tests.db"]

#: Fixtures that start processes (PostgreSQL and dbmate for the database ones): a test using
#: one is live whether or not its module says so.
PROCESS_FIXTURES = frozenset({"procs", "database_url", "pg_admin_url"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.live)


@pytest.fixture
def procs(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ProcessGroup]:
    """Start real processes; they are stopped when the test ends, and their output is shown
    when it fails."""
    group = ProcessGroup(tmp_path)
    yield group
    group.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(group.outputs())


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections for the whole test."""
    with refusing_port() as port:
        yield port


@pytest.fixture(name="sim_settings")
def sim_settings_fixture() -> dict[str, Any]:
    """Settings beyond ``FAST`` for the module's simulators; a module may override it."""
    return {}


@pytest.fixture(name="sim")
async def sim_fixture(sim_settings: dict[str, Any]) -> AsyncIterator[Sim]:
    """The simulator, in the test's loop, on ports it chose."""
    simulator = Simulator(simulator_settings(**sim_settings))
    await simulator.start()
    try:
        yield Sim(simulator)
    finally:
        await simulator.stop()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
