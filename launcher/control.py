"""Running supervisord for the launcher, and driving it over its XML-RPC socket.

supervisord runs in a process group of its own, so Ctrl-C reaches only the launcher, which
stops the programs itself, all at once (supervisord would stop them one after the other);
and it dies with the launcher (``PR_SET_PDEATHSIG``): a launcher killed outright leaves
supervisord to stop every program, rather than a stack nobody controls.
"""

from __future__ import annotations

import configparser
import ctypes
import http.client
import os
import signal
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterable
from pathlib import Path
from typing import Any, cast

from supervisor.xmlrpc import (  # type: ignore[import-untyped]
    Faults,
    SupervisorTransport,
)

from launcher.supervisor import CONTROL_USER, Supervisord

PR_SET_PDEATHSIG = 1
#: supervisord's states of a program that is not running and will not start by itself
STOPPED = frozenset({"STOPPED", "EXITED", "FATAL"})


class SupervisordGone(RuntimeError):
    """supervisord exited, or never answered on its socket."""


def _die_with(parent: int) -> None:
    """In the child, before exec: SIGTERM when ``parent`` dies (and at once if it already
    has, between fork and here)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def spawn(supervisord: Supervisord) -> subprocess.Popen[bytes]:
    """supervisord in the foreground, in its own process group, dying with this process.
    (``preexec_fn`` is safe here: the launcher runs no threads.)"""
    parent = os.getpid()
    return subprocess.Popen(  # pylint: disable=consider-using-with,subprocess-popen-preexec-fn
        [sys.executable, "-m", "supervisor.supervisord", "-c", str(supervisord.config)],
        stdin=subprocess.DEVNULL,
        process_group=0,
        preexec_fn=lambda: _die_with(parent),
    )


class Control:
    """One supervisord's XML-RPC interface on its unix socket."""

    def __init__(self, socket: Path, password: str) -> None:
        self._transport = SupervisorTransport(CONTROL_USER, password, f"unix://{socket}")
        # The host is a placeholder: the transport connects to the socket.
        self._rpc = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=self._transport)
        self.socket = socket

    @classmethod
    def of(cls, supervisord: Supervisord) -> Control:
        return cls(supervisord.socket, supervisord.password)

    def wait_until_up(self, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
        """Until supervisord answers; raises ``SupervisordGone`` if it exits first."""
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise SupervisordGone(f"supervisord exited with status {process.returncode}")
            try:
                self.state()
                return
            except (OSError, http.client.HTTPException, xmlrpc.client.Fault):
                self._transport.close()  # a failed request leaves the connection unusable
                if time.monotonic() > deadline:
                    raise SupervisordGone(f"supervisord did not answer on {self.socket}") from None
            time.sleep(0.05)

    def state(self) -> str:
        """``RUNNING``, or ``SHUTDOWN`` once it is stopping (a fault says so too)."""
        try:
            return str(cast(dict[str, Any], self._rpc.supervisor.getState())["statename"])
        except xmlrpc.client.Fault as fault:
            if fault.faultCode == Faults.SHUTDOWN_STATE:
                return "SHUTDOWN"
            raise

    def states(self) -> dict[str, str]:
        """Every program's state, by name."""
        infos = cast(list[dict[str, Any]], self._rpc.supervisor.getAllProcessInfo())
        return {str(info["name"]): str(info["statename"]) for info in infos}

    def _each(self, method: str, names: Iterable[str], done_already: int) -> None:
        """``method`` for each program, not waiting for it; the fault saying the program is
        there already is no error."""
        call = getattr(self._rpc.supervisor, method)
        for name in names:
            try:
                call(name, False)
            except xmlrpc.client.Fault as fault:
                if fault.faultCode != done_already:
                    raise

    def start(self, names: Iterable[str]) -> None:
        """Start each program without waiting for it to stay up (supervisord still restarts
        it if it dies)."""
        self._each("startProcess", names, Faults.ALREADY_STARTED)

    def stop(self, names: Iterable[str], timeout: float = 15.0) -> list[str]:
        """Ask every program in ``names`` to stop at once, then wait until each has (past its
        ``stopwaitsecs`` supervisord kills it); returns those still running after ``timeout``."""
        names = list(names)
        self._each("stopProcess", names, Faults.NOT_RUNNING)
        deadline = time.monotonic() + timeout
        while True:
            states = self.states()
            running = [name for name in names if states.get(name, "STOPPED") not in STOPPED]
            if not running or time.monotonic() > deadline:
                return running
            time.sleep(0.02)

    def shutdown(self) -> None:
        """supervisord stops whatever still runs, then exits."""
        self._rpc.supervisor.shutdown()


def previous_password(config: Path) -> str | None:
    """The control password in an earlier start's configuration, if there is one."""
    parser = configparser.RawConfigParser()
    try:
        parser.read(config)
        return parser.get("supervisorctl", "password")
    except (OSError, configparser.Error):
        return None


def previous_pid(supervisord: Supervisord) -> int | None:
    """The pid of a supervisord still running from this run directory, if any."""
    try:
        pid = int(supervisord.pidfile.read_text().strip())
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return None
    return (
        pid if b"supervisord" in command and str(supervisord.config).encode() in command else None
    )


class AlreadyRunning(RuntimeError):
    """A stack already runs from this run directory."""


def wait_for_previous(supervisord: Supervisord, timeout: float = 30.0) -> int | None:
    """When an earlier start's supervisord is still stopping (its launcher was killed), wait
    until it is gone; returns its pid, or None if there was none. Raises ``AlreadyRunning``
    when it is not stopping, ``TimeoutError`` when it does not stop in time."""
    pid = previous_pid(supervisord)
    if pid is None:
        return None
    password = previous_password(supervisord.config)
    if password is not None:
        try:
            if Control(supervisord.socket, password).state() == "RUNNING":
                raise AlreadyRunning(
                    f"a stack already runs from {supervisord.run_dir} (supervisord pid {pid}): "
                    f"stop it first (supervisorctl -c {supervisord.config} shutdown)"
                )
        except (OSError, http.client.HTTPException, xmlrpc.client.Fault):
            pass  # not answering: it is on its way out
    deadline = time.monotonic() + timeout
    while previous_pid(supervisord) == pid:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the previous supervisord (pid {pid}) did not stop")
        time.sleep(0.05)
    return pid
