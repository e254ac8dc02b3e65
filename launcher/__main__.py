"""``python -m launcher demo|run``: the whole stack on 127.0.0.1 under supervisord.

``demo`` starts the exchange simulator and points the feeders at it; ``run`` uses the real
exchanges. Without ``DATABASE_URL`` a private PostgreSQL cluster runs in ``run/pg``. The
launcher starts supervisord, then each program that waits for something once it is there:
the feeders once the simulator listens, the gateways once the migrations are applied and the
feeders run, HAProxy once the gateways are ready. It stays in the foreground: Ctrl-C, SIGTERM
or SIGHUP stops the programs in the reverse order, those of one priority at once, then
supervisord. Killed outright, it takes supervisord along, which stops the programs itself.
``supervisorctl -c run/supervisord.conf stop gateway-1`` stops one.
"""

from __future__ import annotations

import argparse
import http.client
import os
import pwd
import secrets
import signal
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from launcher import control
from launcher.control import AlreadyRunning, Control, SupervisordGone
from launcher.gates import GateFailed, gates
from launcher.migrate import ROOT
from launcher.postgres import EmbeddedPostgres
from launcher.stack import (
    ALERTS_FILE,
    DEMO,
    GATES,
    RUN,
    Program,
    StackSettings,
    database_for,
    haproxy,
    haproxy_backend,
    programs,
    prometheus,
    prometheus_config,
    stop_order,
)
from launcher.supervisor import Supervisord, render

#: Signals that stop the stack: Ctrl-C, a process manager, the terminal closing.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Plan:
    """What to start, and what the launcher does itself once supervisord runs."""

    programs: list[Program]
    settings: StackSettings
    database_url: str
    stats_password: str


def _database(
    mode: str, settings: StackSettings, run_dir: Path
) -> tuple[str, list[Program], dict[str, str]]:
    """The database URL, the program running it (if private), the gateways' extra settings.
    A demo's is its own database (``database_for``): simulated prices never mix with real."""
    if settings.database_url is not None:
        url = settings.database_url.get_secret_value()
        if mode == DEMO:
            simulated = database_for(mode, url)
            return simulated, [], {"DATABASE_URL": simulated}
        return url, [], {}
    cluster = EmbeddedPostgres(run_dir / "pg", settings.postgres_port)
    if cluster.initialise():
        print(f"created a private PostgreSQL cluster in {cluster.home}", flush=True)
    server = Program(
        "postgres",
        argv=tuple(cluster.server_command()),
        priority=5,
        user=cluster.owner,
        # The owner may not enter the checkout (a private home, a mktemp -d folder).
        directory=str(cluster.home),
        stop_signal="INT",  # "fast" shutdown: TERM would wait for every client to leave
    )
    url = database_for(mode, cluster.url)
    return url, [server], {"DATABASE_URL": url}


def plan(mode: str, settings: StackSettings, run_dir: Path, with_prometheus: bool = False) -> Plan:
    """Every program of the stack, with the files they need written to ``run_dir``."""
    database_url, database_programs, gateway_env = _database(mode, settings, run_dir)
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
        alerts = ROOT / "monitoring" / "prometheus" / ALERTS_FILE
        config_file.write_text(prometheus_config(settings, alerts=str(alerts)))
        stack.append(prometheus(settings, str(config_file), str(run_dir / "prometheus")))
    return Plan(stack, settings, database_url, password)


class Stopping(Exception):
    """A signal asked the stack to stop."""


def _stopping(number: int, _frame: FrameType | None) -> None:
    # Once: a second Ctrl-C must not cut the stop short.
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    raise Stopping(signal.Signals(number).name)


def start(stack: Plan, supervisord: Supervisord, process: subprocess.Popen[bytes]) -> None:
    """Once supervisord answers, open each gate a program waits for, in order, and start
    the programs once every gate they wait for is open."""
    Control.of(supervisord).wait_until_up(process)
    opening = gates(stack.settings, stack.database_url)
    waiting = [program for program in stack.programs if program.start_after]
    opened: set[str] = set()
    for gate in GATES:
        if not any(gate in program.start_after for program in waiting):
            continue
        print(opening[gate](), flush=True)
        opened.add(gate)
        now = [program for program in waiting if opened.issuperset(program.start_after)]
        Control.of(supervisord).start(program.name for program in now)
        waiting = [program for program in waiting if program not in now]


def stop(stack: Plan, supervisord: Supervisord, process: subprocess.Popen[bytes]) -> None:
    """Stop the programs, each priority's at once, the last started first; then supervisord.

    supervisord would stop them itself in the same order, but one at a time, each after the
    one before has gone. In this order nothing loses what it depends on while it stops:
    HAProxy and the gateways go first (whose writers store what they hold), the database last.
    """
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)  # stopping after a failure: no signal cuts it
    if process.poll() is None:
        # A fresh connection: the signal may have cut a request on the other one short.
        ctl = Control.of(supervisord)
        try:
            for names in stop_order(stack.programs):
                ctl.stop(names)
            ctl.shutdown()
        except (OSError, http.client.HTTPException, xmlrpc.client.Fault) as error:
            print(f"ERROR stopping through supervisord failed ({error}); signalling it", flush=True)
            process.terminate()  # supervisord stops them itself, one after the other
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run(stack: Plan, supervisord: Supervisord) -> int:
    """Start supervisord and the programs; on a stop signal (or any failure), stop them all.
    Returns 0 when stopped by a signal, 1 when the stack could not start, supervisord's
    status if it exited by itself."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stopping)
    process = control.spawn(supervisord)
    try:
        start(stack, supervisord, process)
        return process.wait()
    except Stopping as stopping:
        print(f"stopping the stack ({stopping})", flush=True)
        return 0
    except (
        GateFailed,
        SupervisordGone,
        OSError,
        http.client.HTTPException,
        xmlrpc.client.Fault,
    ) as error:
        print(f"CRITICAL the stack cannot start: {error}", flush=True)
        return 1
    finally:
        if process.poll() is None:
            started = time.monotonic()
            stop(stack, supervisord, process)
            print(f"every process stopped in {time.monotonic() - started:.2f} s", flush=True)


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
    supervisord = Supervisord(
        run_dir, pwd.getpwuid(os.geteuid()).pw_name, secrets.token_urlsafe(16)
    )
    if not args.print_config:
        try:
            _wait_for_previous(supervisord)
        except (AlreadyRunning, TimeoutError) as error:
            print(f"CRITICAL {error}", flush=True)
            return 1
    stack = plan(args.mode, settings, run_dir, args.prometheus)
    config = render(stack.programs, supervisord, ROOT, sys.executable)
    if args.print_config:
        print(config)
        return 0
    supervisord.config.touch(mode=0o600)  # it holds passwords
    supervisord.config.chmod(0o600)
    supervisord.config.write_text(config)
    made_up = "" if settings.haproxy_stats_password else f" / {stack.stats_password}"
    print(
        f"starting the {args.mode} stack: supervisorctl -c {supervisord.config} status\n"
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
    return run(stack, supervisord)


def _wait_for_previous(supervisord: Supervisord) -> None:
    """A launcher killed outright leaves its supervisord stopping the programs: wait for it."""
    pid = control.previous_pid(supervisord)
    if pid is not None:
        print(f"waiting for the previous stack to stop (supervisord pid {pid})", flush=True)
        control.wait_for_previous(supervisord)


if __name__ == "__main__":
    sys.exit(main())
