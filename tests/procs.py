"""Real processes on 127.0.0.1 for integration tests, always cleaned up.

``ProcessGroup.spawn`` starts ``python -m <module>`` with a clean environment (no developer
``.env`` leaks in: children run in a temporary directory) and its output in a file; ``stop_all``
terminates them, killing what does not exit in time, and the fixture in ``conftest`` calls it
whatever the test's outcome.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def wait_for(
    probe: Callable[[], T], timeout: float, interval: float = 0.02, what: str = "condition"
) -> T:
    """Poll ``probe`` until it returns something truthy; return it, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout} s")
        time.sleep(interval)


def _session_members(session: int) -> list[int]:
    """Processes of session ``session`` (every child is started as a session leader, and its
    descendants stay in its session unless they leave it)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == session:  # after ")": state, ppid, pgrp, session
            members.append(int(entry.name))
    return members


def _end_session(session: int, grace: float = 3.0) -> None:
    """SIGTERM every process left in ``session``, SIGKILL what survives ``grace`` seconds."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        members = _session_members(session)
        if not members:
            return
        for pid in members:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _session_members(session):
            time.sleep(0.05)


class Process:
    """One child process with its output captured to a file."""

    def __init__(self, name: str, popen: subprocess.Popen, log_path: Path) -> None:
        self.name = name
        self.popen = popen
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signum)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; then whatever it started and left behind
        (a process manager's children) goes the same way. Returns the exit status."""
        self.signal(signal.SIGTERM)
        try:
            status = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            status = self.popen.wait(timeout)
        _end_session(self.popen.pid)
        return status

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        self.popen.wait(5)


class ProcessGroup:
    """The processes one test started."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[Process] = []

    def spawn(
        self,
        name: str,
        args: list[str],
        env: dict[str, str] | None = None,
        python: bool = True,
        cwd: Path | None = None,
    ) -> Process:
        """Start ``python -m args...`` (or ``args`` when ``python`` is false), in the test's
        directory unless ``cwd`` says otherwise."""
        log_path = self.workdir / f"{name}.log"
        child_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "SERVICE_NAME": name,
            "LOG_LEVEL": "INFO",
            **(env or {}),
        }
        command = [sys.executable, "-m", *args] if python else args
        with log_path.open("ab") as log_file:
            popen = subprocess.Popen(  # pylint: disable=consider-using-with
                command,
                cwd=cwd or self.workdir,
                env=child_env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()

    def outputs(self, tail: int = 40) -> str:
        """The last lines of every process's output, for a failing test's report."""
        parts = []
        for process in self.processes:
            lines = process.output().splitlines()[-tail:]
            parts.append(f"----- {process.name} (pid {process.pid}) -----\n" + "\n".join(lines))
        return "\n".join(parts)
