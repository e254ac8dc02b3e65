"""Child processes that are always cleaned up, and waiting on what they do.

``ProcessGroup.spawn`` starts ``python -m <module>`` (or any command) in a new session with a
clean environment (no developer ``.env`` leaks in: children run in a directory of the group's)
and its output in a file; ``stop_all`` terminates every process and whatever they started,
killing what does not exit in time.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class ProcessExited(Exception):
    """A child ended while the harness was waiting for it to do something."""


def wait_for(
    probe: Callable[[], T | None],
    timeout: float,
    interval: float = 0.02,
    what: str = "condition",
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


async def until(probe: Callable[[], T | Awaitable[T]], timeout: float, interval: float = 0.01) -> T:
    """:func:`wait_for` inside an event loop: poll ``probe`` (sync or async) without blocking
    the loop."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def process_stats() -> Iterator[tuple[int, list[str]]]:
    """Every process's pid and the fields of its ``/proc/<pid>/stat`` after the command name
    (which may hold spaces and parentheses): state, ppid, pgrp, session..."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        yield int(entry.name), stat.rsplit(")", 1)[1].split()


def _session_members(session: int) -> list[int]:
    """Processes of session ``session`` (every child is started as a session leader, and its
    descendants stay in its session unless they leave it)."""
    return [pid for pid, fields in process_stats() if int(fields[3]) == session]


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

    def __init__(self, name: str, popen: subprocess.Popen[bytes], log_path: Path) -> None:
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

    def wait_for(self, probe: Callable[[], T | None], timeout: float, what: str) -> T:
        """:func:`wait_for`, failing at once (with the output) if the process ends first."""

        def alive_probe() -> T | None:
            result = probe()
            if not result and not self.alive():
                raise ProcessExited(
                    f"{self.name} exited with {self.popen.returncode} before {what}:\n"
                    + self.output()[-3000:]
                )
            return result

        return wait_for(alive_probe, timeout, what=f"{self.name}: {what}")

    def wait_for_line(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first match of ``pattern`` in the output, once it is there."""
        compiled = re.compile(pattern)
        return self.wait_for(
            lambda: compiled.search(self.output()), timeout, what=f"a line matching {pattern!r}"
        )

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
    """The processes one test (or one benchmark) started."""

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
        """Start ``python -m args...`` (or ``args`` when ``python`` is false), in the group's
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
