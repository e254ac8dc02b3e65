"""What the launcher waits for before it starts the programs that need it (``GATES``).

Each gate returns a line saying what it saw, or raises ``GateFailed`` when what it waits for
never comes; a gate that can do without (the gateways' readiness) says so and opens anyway.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable

import httpx

from launcher.migrate import MigrationFailed, migrate
from launcher.stack import (
    FEEDERS_RUNNING,
    GATEWAYS_READY,
    SCHEMA_APPLIED,
    SIMULATOR_LISTENING,
    StackSettings,
    simulator_ports,
)


class GateFailed(RuntimeError):
    """What a gate waits for did not come: the stack cannot start."""


def accepts_connections(host: str, port: int) -> bool:
    """Something accepts TCP connections on ``host:port`` right now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_listening(host: str, ports: Iterable[int], what: str, timeout: float) -> str:
    """Until every port of ``ports`` accepts connections."""
    started = time.monotonic()
    waiting = list(ports)
    while waiting:
        waiting = [port for port in waiting if not accepts_connections(host, port)]
        if waiting and time.monotonic() - started > timeout:
            ports_ = ", ".join(map(str, waiting))
            raise GateFailed(f"{what} is not listening on {host}:{ports_} after {timeout:g} s")
        time.sleep(0.05)
    return f"{what} listening after {time.monotonic() - started:.2f} s"


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def wait_ready(host: str, ports: Iterable[int], timeout: float) -> str:
    """Until every gateway answers ``/readyz`` with 200; after ``timeout`` the gate opens
    anyway (HAProxy then sends traffic to a replica once its health checks pass)."""
    started = time.monotonic()
    waiting = [f"http://{host}:{port}/readyz" for port in ports]
    while waiting:
        waiting = [url for url in waiting if not _ready(url)]
        if waiting and time.monotonic() - started > timeout:
            return f"WARNING not ready after {timeout:g} s: {', '.join(waiting)}"
        time.sleep(0.05)
    return f"gateways ready after {time.monotonic() - started:.2f} s"


def _migrate(database_url: str) -> str:
    try:
        return migrate(database_url)
    except MigrationFailed as error:
        raise GateFailed(str(error)) from None


def gates(settings: StackSettings, database_url: str) -> dict[str, Callable[[], str]]:
    """How to wait for each gate of this stack."""
    host = settings.host
    return {
        SIMULATOR_LISTENING: lambda: wait_listening(
            host, simulator_ports(settings), "the simulator", timeout=30
        ),
        SCHEMA_APPLIED: lambda: _migrate(database_url),
        FEEDERS_RUNNING: lambda: wait_listening(
            host, settings.feeder_metrics_ports, "the feeders", timeout=30
        ),
        GATEWAYS_READY: lambda: wait_ready(host, settings.gateway_ports, timeout=20),
    }
