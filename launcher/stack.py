"""The stack as data: which processes run, with which command and environment."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO = "demo"
RUN = "run"


class StackPorts(BaseSettings):
    """Ports of the native stack; the defaults are the documented ones. Tests move them."""

    model_config = SettingsConfigDict(env_prefix="STACK_", extra="ignore", frozen=True)

    gateway_ports: tuple[int, ...] = (8001, 8002)
    #: (XSUB, XPUB) of each forwarder
    forwarder_ports: tuple[tuple[int, int], ...] = ((5555, 5556), (5557, 5558))
    sim_control_port: int = 8900
    sim_binance_ws_ports: tuple[int, int] = (9443, 9444)
    sim_binance_rest_port: int = 8901
    sim_coingecko_port: int = 8902
    host: str = Field(default="127.0.0.1")


@dataclass(frozen=True)
class Program:
    """One long-running process."""

    name: str
    #: the module run with ``python -m`` and its arguments
    module: tuple[str, ...]
    environment: dict[str, str] = field(default_factory=dict)
    #: supervisord starts lower priorities first
    priority: int = 100

    def command(self, python: str = sys.executable) -> tuple[str, ...]:
        return (python, "-m", *self.module)


def _tcp(host: str, port: int) -> str:
    return f"tcp://{host}:{port}"


def simulator_urls(ports: StackPorts) -> dict[str, str]:
    """The feeder settings that point every transport at the simulator."""
    host = ports.host
    return {
        "BINANCE_WS_URLS": ",".join(f"ws://{host}:{port}" for port in ports.sim_binance_ws_ports),
        "BINANCE_REST_URL": f"http://{host}:{ports.sim_binance_rest_port}",
        "COINGECKO_URL": f"http://{host}:{ports.sim_coingecko_port}",
        # The simulator has no rate limit worth saving calls for: poll as often as it refreshes.
        "COINGECKO_INTERVAL": "10",
    }


def programs(mode: str, ports: StackPorts) -> list[Program]:
    """Every process of the stack in ``mode`` (``demo`` or ``run``)."""
    if mode not in (DEMO, RUN):
        raise ValueError(f"mode must be {DEMO!r} or {RUN!r}, not {mode!r}")
    host = ports.host
    pub = ",".join(_tcp(host, xsub) for xsub, _ in ports.forwarder_ports)
    sub = ",".join(_tcp(host, xpub) for _, xpub in ports.forwarder_ports)
    stack: list[Program] = []
    if mode == DEMO:
        stack.append(
            Program(
                "simulator",
                ("simulator",),
                {
                    "SIM_HOST": host,
                    "SIM_CONTROL_PORT": str(ports.sim_control_port),
                    "SIM_BINANCE_WS_PORTS": ",".join(map(str, ports.sim_binance_ws_ports)),
                    "SIM_BINANCE_REST_PORT": str(ports.sim_binance_rest_port),
                    "SIM_COINGECKO_PORT": str(ports.sim_coingecko_port),
                },
                priority=10,
            )
        )
    for number, (xsub, xpub) in enumerate(ports.forwarder_ports, start=1):
        stack.append(
            Program(
                f"forwarder-{number}",
                ("forwarder",),
                {
                    "FORWARDER_XSUB_BIND": _tcp(host, xsub),
                    "FORWARDER_XPUB_BIND": _tcp(host, xpub),
                },
                priority=20,
            )
        )
    exchange_urls = simulator_urls(ports) if mode == DEMO else {}
    for transport in ("binance-ws", "binance-rest", "coingecko"):
        stack.append(
            Program(
                f"feeder-{transport}",
                ("feeder", transport),
                {"ZMQ_PUB_ENDPOINTS": pub, **exchange_urls},
                priority=30,
            )
        )
    for number, port in enumerate(ports.gateway_ports, start=1):
        stack.append(
            Program(
                f"gateway-{number}",
                ("gateway",),
                {"ZMQ_SUB_ENDPOINTS": sub, "GATEWAY_HOST": host, "GATEWAY_PORT": str(port)},
                priority=40,
            )
        )
    return stack
