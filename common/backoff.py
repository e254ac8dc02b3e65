"""Pacing: a jittered, capped exponential backoff and a sliding-window limit.

Both are pure (time and randomness are injected) so they are tested without sleeping.
"""

from __future__ import annotations

import random
from collections import deque
from typing import Callable


class Backoff:
    """Exponential backoff with "equal jitter", capped, reset after a success.

    The n-th delay is drawn uniformly from ``[d/2, d]`` where ``d = min(cap, base * factor**n)``.
    Half the delay is guaranteed, so a crowd of clients that lost the same server neither
    reconnects in lockstep nor retries almost instantly.
    """

    def __init__(
        self,
        base: float = 0.5,
        cap: float = 30.0,
        factor: float = 2.0,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if base <= 0 or cap < base or factor < 1:
            raise ValueError("backoff needs 0 < base <= cap and factor >= 1")
        self.base = base
        self.cap = cap
        self.factor = factor
        self._rand = rand
        self.attempts = 0

    def ceiling(self) -> float:
        """The upper bound of the next delay."""
        # Stop growing the exponent once past the cap so it never overflows.
        exponent = min(self.attempts, 64)
        return min(self.cap, self.base * self.factor**exponent)

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        ceiling = self.ceiling()
        self.attempts += 1
        return ceiling / 2 + self._rand() * ceiling / 2

    def reset(self) -> None:
        """Forget past failures: call after an attempt that really worked."""
        self.attempts = 0


class SlidingWindowLimit:
    """At most ``limit`` events in any ``window`` seconds, the window sliding with time.

    A feeder paces its connection attempts with it (Binance caps them per IP); the simulator
    enforces the exchanges' per-window request limits with it. Times are passed in (any one
    clock, in seconds), so it is pure.
    """

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a sliding-window limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()

    def count(self, now: float) -> int:
        """Events in the window that ends at ``now``."""
        self._trim(now)
        return len(self._times)

    def wait_time(self, now: float) -> float:
        """Seconds from ``now`` until one more event fits (0 if it fits now)."""
        if self.count(now) < self.limit:
            return 0.0
        return self._times[0] + self.window - now

    def acquire(self, now: float) -> float:
        """Count an event at ``now`` if it fits and return 0; otherwise count nothing and
        return :meth:`wait_time`."""
        wait = self.wait_time(now)
        if wait == 0.0:
            self._times.append(now)
        return wait
