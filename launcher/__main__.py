"""``python -m launcher demo|run``: the whole stack on 127.0.0.1 under supervisord.

``demo`` starts the exchange simulator and points the feeders at it; ``run`` uses the real
exchanges. Without ``DATABASE_URL`` a private PostgreSQL cluster runs in ``run/pg``. The
launcher starts supervisord, applies the migrations, then starts the gateways, and stays in the
foreground: Ctrl-C or SIGTERM stops every process.
``supervisorctl -c run/supervisord.conf stop gateway-1`` stops one.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from launcher.migrate import ROOT, MigrationFailed, migrate
from launcher.postgres import EmbeddedPostgres
from launcher.stack import (
    DEMO,
    RUN,
    Program,
    StackSettings,
    haproxy,
    haproxy_backend,
    programs,
    prometheus,
    prometheus_config,
)
from launcher.supervisor import render

BIN = Path(sys.executable).parent


@dataclass
class Plan:
    """What to start, and what the launcher does itself once supervisord runs."""

    programs: list[Program]
    database_url: str
    stats_password: str


def _database(settings: StackSettings, run_dir: Path) -> tuple[str, list[Program], dict]:
    """The database URL, the program running it (if private), the gateways' extra settings."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value(), [], {}
    cluster = EmbeddedPostgres(run_dir / "pg", settings.postgres_port)
    if cluster.initialise():
        print(f"created a private PostgreSQL cluster in {cluster.home}", flush=True)
    server = Program(
        "postgres",
        argv=tuple(cluster.server_command()),
        priority=5,
        user=cluster.owner,
        stop_signal="INT",  # "fast" shutdown: TERM would wait for every client to leave
    )
    return cluster.url, [server], {"DATABASE_URL": cluster.url}


def plan(mode: str, settings: StackSettings, run_dir: Path, with_prometheus: bool = False) -> Plan:
    """Every program of the stack, with the files they need written to ``run_dir``."""
    database_url, database_programs, gateway_env = _database(settings, run_dir)
    backend_file = run_dir / "haproxy-gateways.cfg"
    backend_file.write_text(haproxy_backend(settings))
    password = (
        settings.haproxy_stats_password.get_secret_value()
        if settings.haproxy_stats_password is not None
        else secrets.token_urlsafe(12)  # made up for this start, and printed
    )
    stack = [
        *database_programs,
        *programs(mode, settings, gateway_env),
        haproxy(settings, str(backend_file), password, metrics=with_prometheus),
    ]
    if with_prometheus:
        config_file = run_dir / "prometheus.yml"
        config_file.write_text(prometheus_config(settings))
        stack.append(prometheus(settings, str(config_file), str(run_dir / "prometheus")))
    return Plan(stack, database_url, password)


def _supervisorctl(config: Path, *arguments: str) -> None:
    subprocess.run(
        [str(BIN / "supervisorctl"), "-c", str(config), *arguments],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _wait_for_socket(path: Path, supervisord: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if supervisord.poll() is not None or time.monotonic() > deadline:
            raise OSError(f"supervisord did not come up (no {path})")
        time.sleep(0.05)


def run(stack: Plan, config_path: Path) -> int:
    """Start supervisord, migrate, start the gateways; wait for supervisord to exit."""
    supervisord = subprocess.Popen(  # pylint: disable=consider-using-with
        [str(BIN / "supervisord"), "-c", str(config_path)]
    )
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _frame: supervisord.send_signal(number))
    try:
        print(migrate(stack.database_url), flush=True)
        _wait_for_socket(config_path.parent / "supervisor.sock", supervisord)
        _supervisorctl(config_path, "start", *(p.name for p in stack.programs if not p.autostart))
    except (MigrationFailed, subprocess.SubprocessError, OSError) as error:
        print(f"CRITICAL the stack cannot start: {error}", file=sys.stderr, flush=True)
        supervisord.terminate()
        supervisord.wait()
        return 1
    return supervisord.wait()


def main() -> int:
    """Plan the stack, then run it (or print supervisord's configuration)."""
    parser = argparse.ArgumentParser(prog="python -m launcher", description=__doc__)
    parser.add_argument("mode", choices=(DEMO, RUN))
    parser.add_argument("--run-dir", type=Path, default=ROOT / "run", help="state and sockets")
    parser.add_argument("--print-config", action="store_true", help="print it and exit")
    parser.add_argument(
        "--prometheus", action="store_true", help="also run Prometheus (Debian's package)"
    )
    args = parser.parse_args()
    settings = StackSettings()
    run_dir = args.run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    stack = plan(args.mode, settings, run_dir, args.prometheus)
    config = render(stack.programs, run_dir, ROOT, sys.executable)
    if args.print_config:
        print(config)
        return 0
    config_path = run_dir / "supervisord.conf"
    config_path.touch(mode=0o600)  # it holds the stats page's password
    config_path.write_text(config)
    made_up = "" if settings.haproxy_stats_password else f" / {stack.stats_password}"
    print(
        f"starting the {args.mode} stack: supervisorctl -c {config_path} status\n"
        f"the API: http://{settings.host}:{settings.haproxy_port}/api/v1/courses, stats: "
        f"http://{settings.host}:{settings.haproxy_stats_port}/ "
        f"({settings.haproxy_stats_user}{made_up})"
        + (
            f"\nPrometheus: http://{settings.host}:{settings.prometheus_port}/"
            if args.prometheus
            else ""
        ),
        flush=True,
    )
    return run(stack, config_path)


if __name__ == "__main__":
    sys.exit(main())
