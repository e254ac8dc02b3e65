from __future__ import annotations

import pytest

from tests.procs import ProcessGroup

pytest_plugins = ["tests.db"]


@pytest.fixture
def procs(tmp_path, request):
    """Start real processes; they are stopped when the test ends, and their output is shown
    when it fails."""
    group = ProcessGroup(tmp_path)
    yield group
    group.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(group.outputs())


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
