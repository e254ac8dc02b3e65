"""Retry pacing: a jittered, capped exponential backoff and a sliding-window attempt budget.

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


class AttemptBudget:
    """At most ``limit`` attempts in any ``window`` seconds (Binance caps connection attempts)."""

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("an attempt budget needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._times: deque[float] = deque()

    def wait_time(self, now: float) -> float:
        """Seconds to wait before an attempt at ``now`` fits in the budget (0 if it fits)."""
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window - now

    def record(self, now: float) -> None:
        """Count an attempt made at ``now``."""
        self._times.append(now)
