"""supervisord's configuration for a stack: restarts what dies, stops one process on demand,
merges every process's output (each line names its process) onto stdout."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from launcher.stack import Program


def _quote(value: str) -> str:
    # supervisord's environment= takes KEY="value" pairs; % is its interpolation character.
    return '"' + value.replace("%", "%%").replace('"', '\\"') + '"'


def _environment(program: Program) -> str:
    env = {"SERVICE_NAME": program.name, **program.environment}
    return ",".join(f"{key}={_quote(value)}" for key, value in env.items())


def render(programs: Iterable[Program], run_dir: Path, workdir: Path, python: str) -> str:
    """The text of ``supervisord.conf``."""
    sections = [f"""[supervisord]
nodaemon=true
logfile=/dev/stdout
logfile_maxbytes=0
loglevel=info
pidfile={run_dir}/supervisord.pid
childlogdir={run_dir}
directory={workdir}

[unix_http_server]
file={run_dir}/supervisor.sock
chmod=0700

[supervisorctl]
serverurl=unix://{run_dir}/supervisor.sock

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
"""]
    for program in programs:
        command = " ".join(program.command(python))
        user = f"user={program.user}\n" if program.user else ""
        sections.append(f"""[program:{program.name}]
command={command}
directory={workdir}
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
