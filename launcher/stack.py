"""The stack as data: which processes run, with which command and environment."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.markets import TRANSPORTS

DEMO = "demo"
RUN = "run"

# What the launcher waits for before it starts a program (supervisord starts the others at
# once), in the order it waits for them:
#: every port of the simulator accepts connections (the feeders' first requests succeed)
SIMULATOR_LISTENING = "simulator listening"
#: the migrations are applied (the gateways read and write the schema)
SCHEMA_APPLIED = "schema applied"
#: every feeder is up (a gateway's first answers hold every direction, and the gateways
#: start on cores the feeders' own start no longer takes)
FEEDERS_RUNNING = "feeders running"
#: every gateway answers /readyz (HAProxy starts with every replica in rotation)
GATEWAYS_READY = "gateways ready"
GATES = (SIMULATOR_LISTENING, SCHEMA_APPLIED, FEEDERS_RUNNING, GATEWAYS_READY)


#: Streams HAProxy sends one replica at most (haproxy.cfg's global maxconn keeps room for the
#: rest); more wait in its queue.
STREAMS_PER_REPLICA = 4000


class StackSettings(BaseSettings):
    """Ports of the native stack (the defaults are the documented ones; tests move them) and
    the database it uses."""

    model_config = SettingsConfigDict(
        env_prefix="STACK_", env_file=".env", extra="ignore", frozen=True
    )

    gateway_ports: tuple[int, ...] = (8001, 8002)
    #: Each gateway's courses stream server (GATEWAY_STREAM_PORT), in the same order.
    gateway_stream_ports: tuple[int, ...] = (8101, 8102)
    #: (XSUB, XPUB) of each forwarder
    forwarder_ports: tuple[tuple[int, int], ...] = ((5555, 5556), (5557, 5558))
    sim_control_port: int = 8900
    sim_binance_ws_ports: tuple[int, int] = (9443, 9444)
    sim_binance_rest_port: int = 8901
    sim_coingecko_port: int = 8902
    #: The private cluster's port, when no DATABASE_URL is given.
    postgres_port: int = 5433
    haproxy_port: int = 8080
    haproxy_stats_port: int = 8404
    #: HAProxy's Prometheus exporter, served only when Prometheus runs (make demo PROMETHEUS=1).
    haproxy_metrics_port: int = 8405
    #: HAProxy's cache in front of the gateways: "on" or "off" (to measure without it).
    haproxy_cache: Literal["on", "off"] = Field(default="on", validation_alias="HAPROXY_CACHE")
    #: The stats page's credentials; a password is made up for each start when unset.
    haproxy_stats_user: str = Field(default="admin", validation_alias="HAPROXY_STATS_USER")
    haproxy_stats_password: SecretStr | None = Field(
        default=None, validation_alias="HAPROXY_STATS_PASSWORD"
    )
    #: Each feeder's and forwarder's Prometheus metrics (gateways serve theirs on their port).
    feeder_metrics_ports: tuple[int, int, int] = (9101, 9102, 9103)
    forwarder_metrics_ports: tuple[int, ...] = (9111, 9112)
    prometheus_port: int = 9090
    host: str = "127.0.0.1"
    #: An existing PostgreSQL server; without it the stack runs a private cluster in run/pg.
    database_url: SecretStr | None = Field(default=None, validation_alias="DATABASE_URL")


@dataclass(frozen=True)
class Program:
    """One long-running process: a Python module of ours, or another executable."""

    name: str
    #: the module run with ``python -m`` and its arguments
    module: tuple[str, ...] = ()
    #: or a whole command line
    argv: tuple[str, ...] = ()
    environment: dict[str, str] = field(default_factory=dict)
    #: supervisord starts lower priorities first; the launcher stops higher ones first
    priority: int = 100
    #: GATES: started by the launcher once they are all open; none: by supervisord, at once
    start_after: tuple[str, ...] = ()
    #: the system user to run as (supervisord must run as root)
    user: str | None = None
    #: the working directory (one the user can enter); None: the checkout
    directory: str | None = None
    #: how the process is asked to stop
    stop_signal: str = "TERM"

    @property
    def autostart(self) -> bool:
        """supervisord starts it by itself."""
        return not self.start_after

    def command(self, python: str = sys.executable) -> tuple[str, ...]:
        return (python, "-m", *self.module) if self.module else self.argv


def stop_order(stack: list[Program]) -> list[list[str]]:
    """The programs in the reverse of their start order: those of one priority together."""
    priorities = sorted({program.priority for program in stack}, reverse=True)
    return [[p.name for p in stack if p.priority == priority] for priority in priorities]


def _tcp(host: str, port: int) -> str:
    return f"tcp://{host}:{port}"


def simulator_urls(ports: StackSettings) -> dict[str, str]:
    """The feeder settings that point every transport at the simulator."""
    host = ports.host
    return {
        "BINANCE_WS_URLS": ",".join(f"ws://{host}:{port}" for port in ports.sim_binance_ws_ports),
        "BINANCE_REST_URL": f"http://{host}:{ports.sim_binance_rest_port}",
        "COINGECKO_URL": f"http://{host}:{ports.sim_coingecko_port}",
        # The simulator has no rate limit worth saving calls for: poll as often as it refreshes.
        "COINGECKO_INTERVAL": "10",
    }


#: The simulator's prices go to their own database, named after the real one with this suffix.
SIMULATED_SUFFIX = "_sim"


def database_for(mode: str, url: str) -> str:
    """The database ``mode`` stores in: ``url`` itself for real prices; for the simulator's,
    the database of the same name plus ``_sim`` on the same server (dbmate creates it), so a
    live replica never warms up from, stores beside or charts a simulated price."""
    if mode != DEMO:
        return url
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    return urlunsplit(parts._replace(path=f"/{name}{SIMULATED_SUFFIX}"))


def simulator_ports(ports: StackSettings) -> tuple[int, ...]:
    """Every port the simulator listens on."""
    return (
        ports.sim_control_port,
        *ports.sim_binance_ws_ports,
        ports.sim_binance_rest_port,
        ports.sim_coingecko_port,
    )


def _simulator(ports: StackSettings) -> Program:
    return Program(
        "simulator",
        ("simulator",),
        environment={
            "SIM_HOST": ports.host,
            "SIM_CONTROL_PORT": str(ports.sim_control_port),
            "SIM_BINANCE_WS_PORTS": ",".join(map(str, ports.sim_binance_ws_ports)),
            "SIM_BINANCE_REST_PORT": str(ports.sim_binance_rest_port),
            "SIM_COINGECKO_PORT": str(ports.sim_coingecko_port),
        },
        priority=10,
    )


#: How ``backend gateways`` treats its replicas, natively and under Compose (whose
#: haproxy/gateways-compose.cfg repeats these lines: tests/haproxy/test_config.py checks it).
#:
#: * The courses are answered from bytes rendered in advance, in about a millisecond: a
#:   replica that has not answered in 50 ms is frozen or starved, and the request goes to
#:   another one (``retry-on response-timeout``) instead of waiting out ``timeout server``.
#:   Only those two paths: other routes (history, conversions) may take longer. And only
#:   while fewer than 32 requests are in flight to the replicas: with more, answers are late
#:   because every replica is busy, and retrying them would only add to the load (measured:
#:   a flat-out load turned into 504s), so they get ``timeout server`` as before.
#: * Health checks every 200 ms (``timeout check`` 250 ms); two failed in a row take a replica
#:   out of rotation (within 1 s of it hanging), two passed 100 ms apart bring it back; two
#:   failed requests in a row make the very next check decide (``sudden-death``).
GATEWAYS_POLICY = (
    "balance roundrobin",
    "option httpchk GET /readyz",
    "http-check expect status 200",
    "http-request set-timeout server 50ms if { path /api/v1/courses /courses }"
    " { be_conn lt 32 }",
    "default-server inter 200ms fastinter 100ms downinter 500ms fall 2 rise 2 check"
    " observe layer7 error-limit 2 on-error sudden-death",
)


def haproxy_backend(ports: StackSettings) -> str:
    """The native stack's ``backend gateways``: the replicas' ports on 127.0.0.1 (under
    Compose, haproxy/gateways-compose.cfg finds them through Docker's DNS instead)."""
    servers = "".join(
        f"    server gateway-{number} {ports.host}:{port}\n"
        for number, port in enumerate(ports.gateway_ports, start=1)
    )
    # The stream ports follow their replica's checks (track): one health check per replica.
    stream_servers = "".join(
        f"    server gateway-{number} {ports.host}:{port} track gateways/gateway-{number}\n"
        for number, port in enumerate(ports.gateway_stream_ports, start=1)
    )
    policy = "".join(f"    {line}\n" for line in GATEWAYS_POLICY)
    return (
        f"backend gateways\n{policy}{servers}\n"
        "backend gateway_streams from streams\n"
        "    balance leastconn\n"
        f"    default-server maxconn {STREAMS_PER_REPLICA}\n"
        f"{stream_servers}"
    )


def haproxy(
    ports: StackSettings, backend_file: str, password: str, metrics: bool = False
) -> Program:
    """HAProxy in the foreground, configured by haproxy/haproxy.cfg and the backend file; with
    ``metrics``, its Prometheus exporter on a port of its own (for Prometheus to scrape)."""
    exporter = {"HAPROXY_METRICS_BIND": f"{ports.host}:{ports.haproxy_metrics_port}"}
    return Program(
        "haproxy",
        argv=("haproxy", "-W", "-db", "-f", "haproxy/haproxy.cfg", "-f", backend_file),
        environment={
            "HAPROXY_HTTP_BIND": f"{ports.host}:{ports.haproxy_port}",
            "HAPROXY_STATS_BIND": f"{ports.host}:{ports.haproxy_stats_port}",
            "HAPROXY_STATS_USER": ports.haproxy_stats_user,
            "HAPROXY_STATS_PASSWORD": password,
            "HAPROXY_CACHE": ports.haproxy_cache,
            **(exporter if metrics else {}),
        },
        priority=50,
        # Started with every replica able to answer: no "no server available" alert, and
        # no health checks to pass before the first request is served.
        start_after=(GATEWAYS_READY,),
    )


def _gateways(ports: StackSettings, sub: str, database: dict[str, str]) -> list[Program]:
    """The gateway replicas, subscribed to ``sub``, each on its API and stream ports."""
    gateway_ports = zip(ports.gateway_ports, ports.gateway_stream_ports, strict=True)
    return [
        Program(
            f"gateway-{number}",
            ("gateway",),
            environment={
                "ZMQ_SUB_ENDPOINTS": sub,
                "GATEWAY_HOST": ports.host,
                "GATEWAY_PORT": str(port),
                "GATEWAY_STREAM_PORT": str(stream_port),
                **database,
            },
            priority=40,
            start_after=(SCHEMA_APPLIED, FEEDERS_RUNNING),
        )
        for number, (port, stream_port) in enumerate(gateway_ports, start=1)
    ]


def programs(
    mode: str, ports: StackSettings, database: dict[str, str] | None = None
) -> list[Program]:
    """Every process of the stack in ``mode`` (``demo`` or ``run``); ``database`` is extra
    environment for the gateways (the private cluster's URL)."""
    if mode not in (DEMO, RUN):
        raise ValueError(f"mode must be {DEMO!r} or {RUN!r}, not {mode!r}")
    host = ports.host
    pub = ",".join(_tcp(host, xsub) for xsub, _ in ports.forwarder_ports)
    sub = ",".join(_tcp(host, xpub) for _, xpub in ports.forwarder_ports)
    stack: list[Program] = [_simulator(ports)] if mode == DEMO else []
    forwarders = zip(ports.forwarder_ports, ports.forwarder_metrics_ports)
    for number, ((xsub, xpub), metrics_port) in enumerate(forwarders, start=1):
        stack.append(
            Program(
                f"forwarder-{number}",
                ("forwarder",),
                environment={
                    "FORWARDER_XSUB_BIND": _tcp(host, xsub),
                    "FORWARDER_XPUB_BIND": _tcp(host, xpub),
                    "METRICS_HOST": host,
                    "METRICS_PORT": str(metrics_port),
                },
                priority=20,
            )
        )
    exchange_urls = simulator_urls(ports) if mode == DEMO else {}
    for transport, metrics_port in zip(TRANSPORTS, ports.feeder_metrics_ports):
        stack.append(
            Program(
                f"feeder-{transport}",
                ("feeder", transport),
                environment={
                    "ZMQ_PUB_ENDPOINTS": pub,
                    "METRICS_HOST": host,
                    "METRICS_PORT": str(metrics_port),
                    **exchange_urls,
                },
                priority=30,
                # Against the simulator, its first request would be refused (an ERROR, then a
                # backoff) if it started before the simulator listens.
                start_after=(SIMULATOR_LISTENING,) if mode == DEMO else (),
            )
        )
    stack.extend(_gateways(ports, sub, database or {}))
    return stack


#: The alerting rules, beside both Prometheus configurations in monitoring/prometheus/.
ALERTS_FILE = "alerts.yml"


def prometheus_config(
    ports: StackSettings, scrape_interval: str = "2s", alerts: str = ALERTS_FILE
) -> str:
    """The native stack's Prometheus configuration: every process on its port, and the
    alerting rules in ``alerts`` (a path relative to the configuration file, or absolute)."""

    def job(name: str, ports_: tuple[int, ...] | list[int]) -> str:
        targets = ", ".join(f'"{ports.host}:{port}"' for port in ports_)
        return f"  - job_name: {name}\n    static_configs:\n      - targets: [{targets}]\n"

    return (
        "# The native stack's Prometheus (make demo PROMETHEUS=1): written by the launcher\n"
        "# from its ports (launcher/stack.py); this copy is for the default ports.\n"
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  evaluation_interval: {scrape_interval}\n"
        "\n"
        "rule_files:\n"
        f"  - {alerts}\n"
        "\n"
        "scrape_configs:\n"
        + job("gateways", ports.gateway_ports)
        + job("feeders", ports.feeder_metrics_ports)
        + job("forwarders", ports.forwarder_metrics_ports)
        + job("haproxy", [ports.haproxy_metrics_port])
    )


def prometheus(ports: StackSettings, config_file: str, data_dir: str) -> Program:
    """Prometheus (Debian's package) scraping the native stack."""
    return Program(
        "prometheus",
        argv=(
            "prometheus",
            f"--config.file={config_file}",
            f"--storage.tsdb.path={data_dir}",
            f"--web.listen-address={ports.host}:{ports.prometheus_port}",
            "--log.level=warn",
        ),
        priority=60,
    )
