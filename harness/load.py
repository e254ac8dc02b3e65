"""A bounded load from a test: a few concurrent clients for a few seconds, every request
recorded with when it started and ended and what came back."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class Outcome:
    started: float  #: monotonic seconds
    ended: float
    status: int  #: 0 when no answer came
    error: str = ""


class Load:
    """``concurrency`` clients looping on ``url`` (each request made unique with ``_=n`` when
    ``bust_cache``, so it reaches a replica) until ``stop``."""

    def __init__(
        self, url: str, concurrency: int = 16, bust_cache: bool = True, timeout: float = 10.0
    ) -> None:
        self.url = url
        self.concurrency = concurrency
        self.bust_cache = bust_cache
        self.timeout = timeout
        self.outcomes: list[Outcome] = []
        self._counter = itertools.count()
        self._running = True
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self._thread.start()

    async def _client(self, client: httpx.AsyncClient) -> None:
        while self._running:
            params = {"_": str(next(self._counter))} if self.bust_cache else None
            started = time.monotonic()
            try:
                response = await client.get(self.url, params=params)
                outcome = Outcome(started, time.monotonic(), response.status_code)
            except httpx.HTTPError as error:
                outcome = Outcome(started, time.monotonic(), 0, f"{type(error).__name__}")
            self.outcomes.append(outcome)

    async def _run(self) -> None:
        limits = httpx.Limits(max_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
            await asyncio.gather(*(self._client(client) for _ in range(self.concurrency)))

    def stop(self) -> list[Outcome]:
        self._running = False
        self._thread.join(15)
        return list(self.outcomes)


def in_flight(outcomes: list[Outcome], moment: float) -> int:
    """Requests that had started and not yet ended at ``moment``."""
    return sum(1 for o in outcomes if o.started <= moment < o.ended)
