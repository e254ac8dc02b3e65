"""supervisord's configuration for a stack: restarts what dies, stops one process on demand,
merges every process's output (each line names its process) onto stdout."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from launcher.stack import Program

#: supervisorctl's user name on the control socket; the password is made up for each start.
CONTROL_USER = "launcher"


@dataclass(frozen=True)
class Supervisord:
    """Where one supervisord keeps its state, and who may control it."""

    run_dir: Path
    #: the system user it runs as: the launcher's own (saying so spares a warning as root)
    user: str
    #: the control socket's password (the socket is also mode 0700)
    password: str

    @property
    def socket(self) -> Path:
        return self.run_dir / "supervisor.sock"

    @property
    def config(self) -> Path:
        return self.run_dir / "supervisord.conf"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "supervisord.pid"


def _quote(value: str) -> str:
    # supervisord's environment= takes KEY="value" pairs; % is its interpolation character.
    return '"' + value.replace("%", "%%").replace('"', '\\"') + '"'


def _environment(program: Program) -> str:
    env = {"SERVICE_NAME": program.name, **program.environment}
    return ",".join(f"{key}={_quote(value)}" for key, value in env.items())


def render(
    programs: Iterable[Program], supervisord: Supervisord, workdir: Path, python: str
) -> str:
    """The text of ``supervisord.conf``.

    supervisord's own lines go to stdout once: in the foreground it prints them itself, so
    its log file is /dev/null (a log file on /dev/stdout printed each line twice).
    """
    run_dir = supervisord.run_dir
    sections = [f"""[supervisord]
nodaemon=true
user={supervisord.user}
logfile=/dev/null
logfile_maxbytes=0
loglevel=info
pidfile={supervisord.pidfile}
childlogdir={run_dir}
directory={workdir}

[unix_http_server]
file={supervisord.socket}
chmod=0700
username={CONTROL_USER}
password={supervisord.password}

[supervisorctl]
serverurl=unix://{supervisord.socket}
username={CONTROL_USER}
password={supervisord.password}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""]
    for program in programs:
        command = " ".join(program.command(python))
        user = f"user={program.user}\n" if program.user else ""
        sections.append(f"""[program:{program.name}]
command={command}
directory={program.directory or workdir}
environment={_environment(program)}
{user}priority={program.priority}
autostart={str(program.autostart).lower()}
autorestart=true
startsecs=1
startretries=1000
stopsignal={program.stop_signal}
stopwaitsecs=10
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
""")
    return "\n".join(sections)
