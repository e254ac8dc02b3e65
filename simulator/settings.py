from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

from common.settings import CommaList, ServiceSettings


def _ports(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("at least one port is needed")
    for item in value:
        if not item.isdigit() or not 0 <= int(item) < 65536:
            raise ValueError(f"{item!r} is not a TCP port")
    chosen = [item for item in value if int(item)]
    if len(set(chosen)) != len(chosen):
        raise ValueError("ports must differ")
    return value


#: 0 binds any free port; the start line (INFO) names the ports bound.
Port = Annotated[int, Field(ge=0, lt=65536)]
Seconds = Annotated[float, Field(gt=0)]


class SimulatorSettings(ServiceSettings):
    """Where the simulator listens and how its exchanges behave; every variable is ``SIM_*``.

    Field names carry the prefix (as the forwarder's do) so the shared ``LOG_*`` variables keep
    their names.
    """

    sim_host: str = "127.0.0.1"
    sim_control_port: Port = 8900
    #: One listener per Binance stream host: stream.binance.com:9443 and data-stream.binance.vision.
    sim_binance_ws_ports: Annotated[CommaList, AfterValidator(_ports)] = ("9443", "9444")
    sim_binance_rest_port: Port = 8901
    sim_coingecko_port: Port = 8902

    #: Seed of the market walk: the n-th step's prices are the same on every run.
    sim_seed: int = 42
    #: One miniTicker per stream per interval; the market takes one step per interval.
    sim_tick_interval: Seconds = 1.0
    sim_usd_rub: Annotated[Decimal, Field(gt=0)] = Decimal("92.5")

    sim_ping_interval: Seconds = 20.0
    sim_pong_timeout: Seconds = 60.0
    sim_connection_lifetime: Seconds = 86400.0
    #: How long after a ``serverShutdown`` event the connection is closed.
    sim_shutdown_grace: Seconds = 5.0

    #: CoinGecko's calls per sliding minute (its Demo plan's) and how long its values are cached.
    sim_coingecko_rate_limit: Annotated[int, Field(gt=0)] = 30
    sim_coingecko_cache_seconds: Seconds = 60.0

    #: ``Retry-After`` sent with an injected ``429`` fault that has no expiry of its own.
    sim_fault_retry_after: Annotated[int, Field(gt=0)] = 60

    @property
    def ws_ports(self) -> tuple[int, ...]:
        """The Binance stream ports as integers."""
        return tuple(int(port) for port in self.sim_binance_ws_ports)
