"""``python -m launcher demo`` (what ``make demo`` runs): supervisord with the whole stack."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from harness.ports import port_open
from harness.procs import ProcessGroup, wait_for
from harness.stack import all_served, remove_private_cluster, start_demo
from tests.launcher.demo import stored

pytestmark = pytest.mark.live


@pytest.fixture(name="run_dir")
def run_dir_fixture(tmp_path: Path) -> Iterator[Path]:
    """The launcher's run directory; its private cluster may live elsewhere, behind a link."""
    run_dir = tmp_path / "run"
    yield run_dir
    remove_private_cluster(run_dir)


def test_demo_runs_restarts_and_stops_everything(procs: ProcessGroup, run_dir: Path):
    demo = start_demo(procs, run_dir)
    first, second = (f"http://127.0.0.1:{port}" for port in demo.gateway_ports)
    for replica in (first, second):
        wait_for(partial(all_served, replica), 10, what=f"{replica} serving")
    output = demo.process.output()
    assert "[gateway-1]" in output and "[feeder-binance-ws]" in output  # lines name their process
    assert "Applied: 2026" in output  # dbmate ran before the gateways started
    # Both replicas write every tick: whichever comes first stores it.
    wait_for(lambda: stored(demo) > 0, 10, what="ticks stored in the private cluster")

    demo.ctl("stop", "gateway-1")
    assert not port_open(demo.gateway_ports[0])
    assert all_served(second)  # one process stopped, the rest untouched
    demo.ctl("start", "gateway-1")
    wait_for(lambda: all_served(first), 15, what="gateway-1 back")

    # A process that dies is restarted by supervisord.
    pid = demo.pid("feeder-coingecko")
    subprocess.run(["kill", "-9", str(pid)], check=True)
    wait_for(lambda: demo.pid("feeder-coingecko") not in (0, pid), 30, what="restarted")

    demo.process.popen.send_signal(signal.SIGTERM)
    assert demo.process.popen.wait(30) == 0
    for port in demo.gateway_ports:
        assert not port_open(port)
    assert not (run_dir / "supervisord.pid").exists()
