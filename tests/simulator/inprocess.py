"""The simulator in the test's own event loop, on ports it chose: its wire, its faults and the
feeds reading it are tested through real sockets without a process (the ``sim`` fixture)."""

from __future__ import annotations

from typing import Any

from common.markets import BINANCE_REST, BINANCE_WS, COINGECKO_REST
from harness.procs import until
from simulator.service import Simulator
from simulator.settings import SimulatorSettings

#: Fast clocks so the tests run in seconds; a module may change them with ``sim_settings``.
FAST: dict[str, Any] = {
    "sim_tick_interval": 0.05,
    "sim_ping_interval": 5,
    "sim_pong_timeout": 10,
    "sim_shutdown_grace": 0.3,
    "sim_coingecko_rate_limit": 1000,
    "sim_fault_retry_after": 7,
}
STREAMS = ("btcusdt@miniTicker", "ethusdt@miniTicker", "usdcusdt@miniTicker")
COMBINED = "/stream?streams=" + "/".join(STREAMS)


class Sim:
    """A :class:`Simulator` running in the test's loop, and where to reach it."""

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator
        ports = simulator.ports()
        self.control: int = ports["control"]
        self.ws_ports: list[int] = ports[BINANCE_WS]
        self.rest: int = ports[BINANCE_REST]
        self.coingecko: int = ports[COINGECKO_REST]

    def ws(self, path: str = COMBINED, index: int = 0) -> str:
        return f"ws://127.0.0.1:{self.ws_ports[index]}{path}"

    def url(self, target: str, path: str = "") -> str:
        """``http://`` URL of a REST target (or ``control``)."""
        port = {"control": self.control, BINANCE_REST: self.rest, COINGECKO_REST: self.coingecko}
        return f"http://127.0.0.1:{port[target]}{path}"

    def state(self) -> dict[str, Any]:
        return self.simulator.state()

    async def steps(self, count: int) -> None:
        """Wait until the market has taken ``count`` more steps."""
        start = self.simulator.market.step
        await until(lambda: self.simulator.market.step >= start + count, 10)


def simulator_settings(**overrides: Any) -> SimulatorSettings:
    """Settings on ports 0, fast clocks, no ``.env``."""
    ports = {
        "sim_control_port": 0,
        "sim_binance_ws_ports": "0,0",
        "sim_binance_rest_port": 0,
        "sim_coingecko_port": 0,
    }
    return SimulatorSettings(_env_file=None, **{**ports, **FAST, **overrides})  # type: ignore[call-arg]
