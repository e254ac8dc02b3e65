"""Polling the HTTP API from a test: every answer recorded with the moment it came."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

Body = dict[str, Any]


@dataclass(frozen=True)
class Answer:
    """One poll's outcome."""

    at: float  #: monotonic seconds
    status: int  #: 0 when the request failed outright
    body: Body = field(default_factory=dict)  #: parsed JSON, empty when the request failed
    error: str = ""

    @property
    def courses(self) -> list[Body]:
        courses: list[Body] = self.body.get("courses", [])
        return courses


class ApiPoller:
    """Polls ``url`` from a thread every ``interval`` seconds until ``stop``."""

    def __init__(self, url: str, interval: float = 0.05) -> None:
        self.url = url
        self.interval = interval
        self._answers: list[Answer] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=2.0) as client:
            while not self._stop.is_set():
                at = time.monotonic()
                try:
                    response = client.get(self.url)
                    answer = Answer(at, response.status_code, response.json())
                except (httpx.HTTPError, ValueError) as error:
                    answer = Answer(at, 0, error=f"{type(error).__name__}: {error}")
                with self._lock:
                    self._answers.append(answer)
                self._stop.wait(self.interval)

    def answers(self, since: float = 0.0) -> list[Answer]:
        with self._lock:
            return [a for a in self._answers if a.at >= since]

    def latest(self) -> Answer:
        """The last answer (an empty one, status 0, before the first)."""
        with self._lock:
            return self._answers[-1] if self._answers else Answer(0.0, 0)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def first_time(answers: list[Answer], check: Callable[[Body], bool]) -> float:
    """When the first answer passing ``check`` came."""
    at = next((a.at for a in answers if a.status and check(a.body)), None)
    assert at is not None, "no answer passed the check"
    return at


def exchangers(body: Body) -> set[tuple[str, bool]]:
    """The (exchanger, stale) pairs of every course in an answer."""
    return {(course["exchanger"], course["stale"]) for course in body.get("courses", [])}
