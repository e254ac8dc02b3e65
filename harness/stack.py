"""The service's processes on 127.0.0.1, each registered with a :class:`ProcessGroup` so it is
stopped with the group: the simulator, forwarders, feeders, gateways, and the whole demo stack.

Every process of ours binds port 0 and the harness reads back what it bound (see
:mod:`harness.ports`): the simulator's and the forwarder's start lines name their ports, a
gateway's one listening socket is read from ``/proc``. The demo stack cannot: its ports are
written into HAProxy's and the feeders' configuration before supervisord starts anything, so it
gets unused ports and is started again on new ones when a program says its address is taken.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from harness.ports import (
    ADDRESS_IN_USE,
    PortTaken,
    listening_ports,
    retry_taken_ports,
    unused_port,
)
from harness.procs import Process, ProcessGroup

LOOPBACK = "127.0.0.1"
#: The simulator's start line (INFO) names every port it bound.
SIM_PORTS = r"control :(\d+), binance-ws :(\d+),:(\d+), binance-rest :(\d+), coingecko :(\d+)"
#: The forwarder's start line (INFO) names both endpoints it bound.
FORWARDER_ENDPOINTS = r"forwarding (\S+) \(XSUB\) -> (\S+) \(XPUB\)"


@dataclass(frozen=True)
class SimControl:
    """The simulator's control API on port ``control``."""

    control: int

    @property
    def control_url(self) -> str:
        return f"http://{LOOPBACK}:{self.control}"

    def state(self) -> dict[str, Any]:
        response = httpx.get(f"{self.control_url}/_control/state", timeout=5)
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    def inject(self, target: str, fault: str, **extra: Any) -> dict[str, Any]:
        """Put ``fault`` on ``target`` (``seconds``, ``port``, ``status`` as the API takes)."""
        response = httpx.post(
            f"{self.control_url}/_control/faults",
            json={"target": target, "fault": fault, **extra},
            timeout=5,
        )
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def clear(self) -> None:
        """Clear every fault."""
        response = httpx.delete(f"{self.control_url}/_control/faults", timeout=5)
        assert response.status_code == 200, response.text


@dataclass(frozen=True)
class Sim(SimControl):
    """A running ``python -m simulator`` and how to reach it."""

    process: Process
    ws_ports: tuple[int, int]
    rest: int
    coingecko: int

    def ws(self, path: str, index: int = 0) -> str:
        return f"ws://{LOOPBACK}:{self.ws_ports[index]}{path}"

    @property
    def rest_url(self) -> str:
        return f"http://{LOOPBACK}:{self.rest}"

    @property
    def coingecko_url(self) -> str:
        return f"http://{LOOPBACK}:{self.coingecko}"


def start_sim(group: ProcessGroup, name: str = "simulator", **env: str) -> Sim:
    """The simulator with ``env`` settings, on ports it chose (its INFO start line names them,
    so ``LOG_LEVEL`` must not be above INFO)."""
    variables = {
        "SIM_CONTROL_PORT": "0",
        "SIM_BINANCE_WS_PORTS": "0,0",
        "SIM_BINANCE_REST_PORT": "0",
        "SIM_COINGECKO_PORT": "0",
        **env,
    }
    process = group.spawn(name, ["simulator"], env=variables)
    control, ws_a, ws_b, rest, coingecko = map(int, process.wait_for_line(SIM_PORTS, 15).groups())
    return Sim(control, process, (ws_a, ws_b), rest, coingecko)


@dataclass(frozen=True)
class Forwarder:
    process: Process
    xsub: str  #: publishers connect here
    xpub: str  #: subscribers connect here


def start_forwarder(group: ProcessGroup, name: str = "forwarder") -> Forwarder:
    """A forwarder on two ports it chose."""
    any_port = f"tcp://{LOOPBACK}:0"
    process = group.spawn(
        name, ["forwarder"], env={"FORWARDER_XSUB_BIND": any_port, "FORWARDER_XPUB_BIND": any_port}
    )
    xsub, xpub = process.wait_for_line(FORWARDER_ENDPOINTS, 15).groups()
    return Forwarder(process, xsub, xpub)


def feeder_env(sim: Sim, forwarders: list[Forwarder], **env: str) -> dict[str, str]:
    """Settings pointing a feeder at the simulator and every forwarder."""
    return {
        "ZMQ_PUB_ENDPOINTS": ",".join(f.xsub for f in forwarders),
        "BINANCE_WS_URLS": ",".join(f"ws://{LOOPBACK}:{port}" for port in sim.ws_ports),
        "BINANCE_REST_URL": sim.rest_url,
        "COINGECKO_URL": sim.coingecko_url,
        "COINGECKO_INTERVAL": "1",
        **env,
    }


def start_feeder(
    group: ProcessGroup, transport: str, sim: Sim, forwarders: list[Forwarder], **env: str
) -> Process:
    return group.spawn(
        f"feeder-{transport}", ["feeder", transport], env=feeder_env(sim, forwarders, **env)
    )


@dataclass(frozen=True)
class Gateway:
    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"


def start_gateway(
    group: ProcessGroup, forwarders: list[Forwarder], name: str = "gateway", **env: str
) -> Gateway:
    """A gateway subscribed to every forwarder, listening on a port it chose."""
    process = group.spawn(
        name,
        ["gateway"],
        env={
            "ZMQ_SUB_ENDPOINTS": ",".join(f.xpub for f in forwarders),
            "GATEWAY_PORT": "0",
            **env,
        },
    )
    (port,) = process.wait_for(lambda: listening_ports(process.pid), 20, what="listening")
    return Gateway(process, port)


@dataclass(frozen=True)
class Demo:
    """``python -m launcher demo`` running on ports of its own, and how to drive it."""

    process: Process
    run_dir: Path
    env: dict[str, str]

    @property
    def gateway_ports(self) -> list[int]:
        ports: list[int] = json.loads(self.env["STACK_GATEWAY_PORTS"])
        return ports

    @property
    def api(self) -> str:
        return f"http://{LOOPBACK}:{self.env['STACK_HAPROXY_PORT']}"

    @property
    def stats(self) -> str:
        return f"http://{LOOPBACK}:{self.env['STACK_HAPROXY_STATS_PORT']}"

    @property
    def prometheus(self) -> str:
        return f"http://{LOOPBACK}:{self.env['STACK_PROMETHEUS_PORT']}"

    @property
    def sim(self) -> SimControl:
        """The stack's simulator's control API."""
        return SimControl(int(self.env["STACK_SIM_CONTROL_PORT"]))

    def ctl(self, *arguments: str, check: bool = True) -> str:
        """``supervisorctl`` on this stack; its output."""
        command = [
            str(Path(sys.executable).parent / "supervisorctl"),
            "-c",
            str(self.run_dir / "supervisord.conf"),
            *arguments,
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=check)
        return result.stdout

    def pid(self, program: str) -> int:
        """The program's pid; 0 while it is not running (being restarted)."""
        answer = self.ctl("pid", program, check=False).strip()
        return int(answer) if answer.isdigit() else 0


def demo_env(**extra: str) -> dict[str, str]:
    """Unused ports for every listener of the demo stack (see :mod:`harness.ports`)."""
    picked: set[int] = set()

    def port() -> int:
        while (candidate := unused_port()) in picked:
            pass
        picked.add(candidate)
        return candidate

    def ports(count: int) -> str:
        return json.dumps([port() for _ in range(count)])

    return {
        "STACK_GATEWAY_PORTS": ports(2),
        "STACK_GATEWAY_STREAM_PORTS": ports(2),
        "STACK_FORWARDER_PORTS": json.dumps([[port(), port()] for _ in range(2)]),
        "STACK_SIM_CONTROL_PORT": str(port()),
        "STACK_SIM_BINANCE_WS_PORTS": ports(2),
        "STACK_SIM_BINANCE_REST_PORT": str(port()),
        "STACK_SIM_COINGECKO_PORT": str(port()),
        "STACK_POSTGRES_PORT": str(port()),
        "STACK_HAPROXY_PORT": str(port()),
        "STACK_HAPROXY_STATS_PORT": str(port()),
        "STACK_HAPROXY_METRICS_PORT": str(port()),
        "STACK_FEEDER_METRICS_PORTS": ports(3),
        "STACK_FORWARDER_METRICS_PORTS": ports(2),
        "STACK_PROMETHEUS_PORT": str(port()),
        "HAPROXY_STATS_PASSWORD": "test-password",
        **extra,
    }


def all_served(base_url: str) -> bool:
    """All eight directions answered 200 at ``base_url``."""
    try:
        response = httpx.get(f"{base_url}/api/v1/courses", timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and len(response.json()["courses"]) == 8


def remove_private_cluster(run_dir: Path) -> None:
    """Delete the demo's private PostgreSQL cluster: ``run_dir/pg`` points at it (under /tmp
    when the cluster must be reachable by the postgres user)."""
    shutil.rmtree((run_dir / "pg").resolve(), ignore_errors=True)


def start_demo(
    group: ProcessGroup, run_dir: Path, options: tuple[str, ...] = (), **extra: str
) -> Demo:
    """The demo stack (with the launcher's ``options``), serving through HAProxy; started
    again on other ports if one was taken. Stop it with ``process.stop()`` (or the group)."""

    attempts: list[Process] = []

    def attempt() -> Demo:
        env = demo_env(**extra)
        name = "launcher" if not attempts else f"launcher-{len(attempts) + 1}"
        process = group.spawn(
            name, ["launcher", "demo", "--run-dir", str(run_dir), *options], env=env
        )
        attempts.append(process)
        demo = Demo(process, run_dir, env)

        def serving() -> bool:
            if ADDRESS_IN_USE.search(process.output()):
                process.stop()
                raise PortTaken("a port of the demo stack")
            return all_served(demo.api)

        process.wait_for(serving, 60, what="the demo stack serving through HAProxy")
        return demo

    return retry_taken_ports(attempt)
