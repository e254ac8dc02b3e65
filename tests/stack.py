"""Starting the service's processes for integration tests: the simulator, forwarders, feeders
and gateways, each on free ports of 127.0.0.1, each registered with the test's ProcessGroup so
it is stopped when the test ends."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.procs import Process, ProcessGroup, free_port, port_open, wait_for


@dataclass
class Sim:
    """A running ``python -m simulator`` and how to reach it."""

    process: Process
    control: int
    ws_ports: tuple[int, int]
    rest: int
    coingecko: int

    def ws(self, path: str, index: int = 0) -> str:
        return f"ws://127.0.0.1:{self.ws_ports[index]}{path}"

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control}"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.rest}"

    @property
    def coingecko_url(self) -> str:
        return f"http://127.0.0.1:{self.coingecko}"

    def state(self) -> dict[str, Any]:
        return httpx.get(f"{self.control_url}/_control/state", timeout=5).json()

    def inject(self, target: str, fault: str, **extra: Any) -> dict[str, Any]:
        response = httpx.post(
            f"{self.control_url}/_control/faults",
            json={"target": target, "fault": fault, **extra},
            timeout=5,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def clear(self) -> None:
        response = httpx.delete(f"{self.control_url}/_control/faults", timeout=5)
        assert response.status_code == 200, response.text

    async def ainject(self, target: str, fault: str, **extra: Any) -> dict[str, Any]:
        """``inject`` without blocking the event loop."""
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{self.control_url}/_control/faults",
                json={"target": target, "fault": fault, **extra},
                timeout=5,
            )
        assert response.status_code == 200, response.text
        return response.json()

    async def aclear(self) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.delete(f"{self.control_url}/_control/faults", timeout=5)
        assert response.status_code == 200, response.text

    async def astate(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"{self.control_url}/_control/state", timeout=5)
        return response.json()


def start_sim(group: ProcessGroup, name: str = "simulator", **env: str) -> Sim:
    """Start the simulator on free ports with ``env`` settings."""
    control, ws_a, ws_b, rest, coingecko = (free_port() for _ in range(5))
    variables = {
        "SIM_CONTROL_PORT": str(control),
        "SIM_BINANCE_WS_PORTS": f"{ws_a},{ws_b}",
        "SIM_BINANCE_REST_PORT": str(rest),
        "SIM_COINGECKO_PORT": str(coingecko),
        **env,
    }
    process = group.spawn(name, ["simulator"], env=variables)
    ports = (control, ws_a, ws_b, rest, coingecko)
    try:
        wait_for(
            lambda: all(port_open(port) for port in ports), timeout=10, what="simulator listening"
        )
    except TimeoutError:
        print(process.output())
        raise
    return Sim(process, control, (ws_a, ws_b), rest, coingecko)


@dataclass
class Forwarder:
    process: Process
    xsub: str  #: publishers connect here
    xpub: str  #: subscribers connect here


def start_forwarder(group: ProcessGroup, name: str = "forwarder") -> Forwarder:
    xsub_port, xpub_port = free_port(), free_port()
    xsub, xpub = f"tcp://127.0.0.1:{xsub_port}", f"tcp://127.0.0.1:{xpub_port}"
    process = group.spawn(
        name, ["forwarder"], env={"FORWARDER_XSUB_BIND": xsub, "FORWARDER_XPUB_BIND": xpub}
    )
    wait_for(lambda: port_open(xsub_port) and port_open(xpub_port), 10, what=f"{name} bound")
    return Forwarder(process, xsub, xpub)


def restart_forwarder(group: ProcessGroup, forwarder: Forwarder, name: str) -> Forwarder:
    """Start a forwarder again on the same endpoints (after it was killed)."""
    process = group.spawn(
        name,
        ["forwarder"],
        env={"FORWARDER_XSUB_BIND": forwarder.xsub, "FORWARDER_XPUB_BIND": forwarder.xpub},
    )
    ports = [int(endpoint.rsplit(":", 1)[1]) for endpoint in (forwarder.xsub, forwarder.xpub)]
    wait_for(lambda: all(port_open(port) for port in ports), 10, what=f"{name} bound")
    return Forwarder(process, forwarder.xsub, forwarder.xpub)


def feeder_env(sim: Sim, forwarders: list[Forwarder], **env: str) -> dict[str, str]:
    """Settings pointing a feeder at the simulator and every forwarder."""
    return {
        "ZMQ_PUB_ENDPOINTS": ",".join(f.xsub for f in forwarders),
        "BINANCE_WS_URLS": ",".join(f"ws://127.0.0.1:{port}" for port in sim.ws_ports),
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


@dataclass
class Gateway:
    process: Process
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_gateway(
    group: ProcessGroup, forwarders: list[Forwarder], name: str = "gateway", **env: str
) -> Gateway:
    """A gateway subscribed to every forwarder, listening on a free port."""
    port = free_port()
    process = group.spawn(
        name,
        ["gateway"],
        env={
            "ZMQ_SUB_ENDPOINTS": ",".join(f.xpub for f in forwarders),
            "GATEWAY_PORT": str(port),
            **env,
        },
    )
    wait_for(lambda: port_open(port), 15, what=f"{name} listening")
    return Gateway(process, port)


@dataclass
class Demo:
    """``python -m launcher demo`` running on free ports, and how to drive it."""

    process: Process
    run_dir: Path
    env: dict[str, str]

    @property
    def gateway_ports(self) -> list[int]:
        return json.loads(self.env["STACK_GATEWAY_PORTS"])

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.env['STACK_HAPROXY_PORT']}"

    @property
    def stats(self) -> str:
        return f"http://127.0.0.1:{self.env['STACK_HAPROXY_STATS_PORT']}"

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
        return int(self.ctl("pid", program).strip())

    def sim_inject(self, target: str, fault: str, **extra: Any) -> None:
        """A fault in the stack's simulator."""
        response = httpx.post(
            f"http://127.0.0.1:{self.env['STACK_SIM_CONTROL_PORT']}/_control/faults",
            json={"target": target, "fault": fault, **extra},
            timeout=5,
        )
        response.raise_for_status()


def demo_env(**extra: str) -> dict[str, str]:
    """Free ports for every listener of the demo stack."""
    return {
        "STACK_GATEWAY_PORTS": json.dumps([free_port(), free_port()]),
        "STACK_FORWARDER_PORTS": json.dumps([[free_port(), free_port()] for _ in range(2)]),
        "STACK_SIM_CONTROL_PORT": str(free_port()),
        "STACK_SIM_BINANCE_WS_PORTS": json.dumps([free_port(), free_port()]),
        "STACK_SIM_BINANCE_REST_PORT": str(free_port()),
        "STACK_SIM_COINGECKO_PORT": str(free_port()),
        "STACK_POSTGRES_PORT": str(free_port()),
        "STACK_HAPROXY_PORT": str(free_port()),
        "STACK_HAPROXY_STATS_PORT": str(free_port()),
        "STACK_HAPROXY_METRICS_PORT": str(free_port()),
        "STACK_FEEDER_METRICS_PORTS": json.dumps([free_port(), free_port(), free_port()]),
        "STACK_FORWARDER_METRICS_PORTS": json.dumps([free_port(), free_port()]),
        "STACK_PROMETHEUS_PORT": str(free_port()),
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
    """The demo stack (with the launcher's ``options``), serving through HAProxy; stop it with
    ``process.stop()`` (or let the group do it)."""
    env = demo_env(**extra)
    process = group.spawn(
        "launcher", ["launcher", "demo", "--run-dir", str(run_dir), *options], env=env
    )
    demo = Demo(process, run_dir, env)
    wait_for(lambda: all_served(demo.api), 40, what="the demo stack serving through HAProxy")
    return demo
