"""Gray failures on a running stack: processes frozen (SIGSTOP) rather than killed, and HAProxy's
view of its replicas, recorded as it changes.

A frozen process keeps its sockets: peers still connect to it (the kernel accepts) and then
wait. That is what tells a gray failure from a crash, and why it is injected with signals.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from harness.procs import process_stats


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (a PostgreSQL server is a postmaster and its
    children: freezing only the postmaster leaves the connections' backends running)."""
    parents: dict[int, list[int]] = {}
    for child, fields in process_stats():
        parents.setdefault(int(fields[1]), []).append(child)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


@contextmanager
def frozen(pids: list[int]) -> Iterator[float]:
    """``pids`` stopped (SIGSTOP) for the block, whatever happens in it; yields when."""
    stopped: list[int] = []
    try:
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
            stopped.append(pid)
        yield time.monotonic()
    finally:
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass


class ServerStates:
    """Polls HAProxy's stats page every ``interval`` s and records each change of a
    backend's servers' status (``UP``, ``UP 1/2`` going down, ``DOWN``, ``DOWN 1/2`` going
    up...), with when it was seen, until ``stop``."""

    def __init__(
        self, stats_url: str, auth: tuple[str, str], backend: str, interval: float = 0.02
    ) -> None:
        self.url = f"{stats_url}/;csv"
        self.auth = auth
        self.backend = backend
        self.interval = interval
        self.changes: list[tuple[float, str, str]] = []  #: (monotonic s, server, status)
        self._last: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(auth=self.auth, timeout=2) as client:
            while not self._stop.is_set():
                try:
                    text = client.get(self.url).text.lstrip("# ")
                except httpx.HTTPError:
                    self._stop.wait(self.interval)
                    continue
                at = time.monotonic()
                for row in csv.DictReader(io.StringIO(text)):
                    server, status = row["svname"], row["status"]
                    if row["pxname"] != self.backend or server in ("FRONTEND", "BACKEND"):
                        continue
                    with self._lock:
                        if self._last.get(server) != status:
                            self._last[server] = status
                            self.changes.append((at, server, status))
                self._stop.wait(self.interval)

    def status(self, server: str) -> str:
        with self._lock:
            return self._last.get(server, "")

    def first(self, server: str, prefix: str, since: float) -> float | None:
        """When ``server``'s status first started with ``prefix`` at or after ``since``."""
        with self._lock:
            return next(
                (
                    at
                    for at, name, status in self.changes
                    if name == server and at >= since and status.startswith(prefix)
                ),
                None,
            )

    def back_up(self, server: str, since: float) -> float | None:
        """When ``server`` was fully ``UP`` again after being down at or after ``since``."""
        down = self.first(server, "DOWN", since)
        if down is None:
            return None
        with self._lock:
            return next(
                (
                    at
                    for at, name, status in self.changes
                    if name == server and at > down and status == "UP"
                ),
                None,
            )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@contextmanager
def slowed(replica_url: str, milliseconds: int) -> Iterator[None]:
    """A replica answering every request ``milliseconds`` late for the block, through its
    control route (``GATEWAY_FAULT_INJECTION=true``)."""

    def delay(value: int) -> None:
        answer = httpx.put(f"{replica_url}/_control/delay", json={"milliseconds": value}, timeout=5)
        answer.raise_for_status()

    delay(milliseconds)
    try:
        yield
    finally:
        delay(0)
