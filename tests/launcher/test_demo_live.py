"""``python -m launcher demo`` (what ``make demo`` runs): supervisord with the whole stack."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.procs import ProcessGroup, free_port, port_open, wait_for

pytestmark = pytest.mark.integration


def _ports() -> dict[str, str]:
    return {
        "STACK_GATEWAY_PORTS": json.dumps([free_port(), free_port()]),
        "STACK_FORWARDER_PORTS": json.dumps([[free_port(), free_port()] for _ in range(2)]),
        "STACK_SIM_CONTROL_PORT": str(free_port()),
        "STACK_SIM_BINANCE_WS_PORTS": json.dumps([free_port(), free_port()]),
        "STACK_SIM_BINANCE_REST_PORT": str(free_port()),
        "STACK_SIM_COINGECKO_PORT": str(free_port()),
    }


def _all_served(port: int) -> bool:
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/api/v1/courses", timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and len(response.json()["courses"]) == 8


@pytest.fixture(name="run_dir")
def run_dir_fixture(tmp_path: Path) -> Iterator[Path]:
    """The launcher's run directory; its private cluster may live elsewhere, behind a link."""
    run_dir = tmp_path / "run"
    yield run_dir
    shutil.rmtree((run_dir / "pg").resolve(), ignore_errors=True)


def test_demo_runs_restarts_and_stops_everything(procs: ProcessGroup, run_dir: Path):
    env = _ports()
    gateway_ports = json.loads(env["STACK_GATEWAY_PORTS"])
    supervisor = procs.spawn("launcher", ["launcher", "demo", "--run-dir", str(run_dir)], env=env)
    for port in gateway_ports:
        wait_for(lambda port=port: _all_served(port), 30, what=f"gateway on {port}")
    output = supervisor.output()
    assert "[gateway-1]" in output and "[feeder-binance-ws]" in output  # lines name their process
    assert "Applied: 2026" in output  # dbmate ran before the gateways started
    wait_for(
        lambda: httpx.get(f"http://127.0.0.1:{gateway_ports[0]}/api/v1/sources").json()["writer"][
            "stored"
        ]
        > 0,
        10,
        what="ticks stored in the private cluster",
    )

    ctl = [
        str(Path(sys.executable).parent / "supervisorctl"),
        "-c",
        str(run_dir / "supervisord.conf"),
    ]
    subprocess.run([*ctl, "stop", "gateway-1"], check=True, capture_output=True, timeout=20)
    assert not port_open(gateway_ports[0])
    assert _all_served(gateway_ports[1])  # one process stopped, the rest untouched
    subprocess.run([*ctl, "start", "gateway-1"], check=True, capture_output=True, timeout=20)
    wait_for(lambda: _all_served(gateway_ports[0]), 15, what="gateway-1 back")

    # A process that dies is restarted by supervisord.
    status = subprocess.run(
        [*ctl, "pid", "feeder-coingecko"], capture_output=True, timeout=10, check=True
    )
    pid = int(status.stdout)
    subprocess.run(["kill", "-9", str(pid)], check=True)
    wait_for(
        lambda: (
            out := subprocess.run(
                [*ctl, "pid", "feeder-coingecko"], capture_output=True, check=False
            )
        )
        and out.stdout.strip().isdigit()
        and int(out.stdout) not in (0, pid),
        10,
        what="feeder-coingecko restarted",
    )

    supervisor.popen.send_signal(signal.SIGTERM)
    assert supervisor.popen.wait(30) == 0
    for port in gateway_ports:
        assert not port_open(port)
    assert not (run_dir / "supervisord.pid").exists()
