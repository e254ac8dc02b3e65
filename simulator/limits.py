"""The exchanges' request budgets, pure (clocks are injected).

* Binance REST: request *weight* per wall-clock minute, a fixed window (``X-MBX-USED-WEIGHT-1M``
  counts what the current minute used); past the limit a request is refused with 429 and a
  ``Retry-After`` up to the next minute.
* CoinGecko: calls per rolling minute.
* Binance streams: incoming frames per rolling second; the connection is cut past the limit.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Charge:
    """The outcome of charging one request to a weight budget."""

    allowed: bool
    used: int  #: weight used in the current window, this request included if allowed
    retry_after: int  #: whole seconds until the window resets (0 when allowed)


class WeightBudget:
    """``limit`` weight per fixed window of ``window`` seconds aligned on the clock (Binance)."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a weight budget needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._window_start = -math.inf
        self._used = 0

    def _roll(self, now: float) -> None:
        start = math.floor(now / self.window) * self.window
        if start != self._window_start:
            self._window_start = start
            self._used = 0

    def used(self) -> int:
        """Weight used so far in the current window."""
        self._roll(self._clock())
        return self._used

    def charge(self, weight: int) -> Charge:
        """Spend ``weight`` if it fits; a refused request costs nothing."""
        now = self._clock()
        self._roll(now)
        if self._used + weight > self.limit:
            retry = max(1, math.ceil(self._window_start + self.window - now))
            return Charge(allowed=False, used=self._used, retry_after=retry)
        self._used += weight
        return Charge(allowed=True, used=self._used, retry_after=0)


class RollingLimit:
    """At most ``limit`` events in any ``window`` seconds (CoinGecko calls, stream messages)."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rolling limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()

    def count(self) -> int:
        """Events in the current window."""
        self._trim(self._clock())
        return len(self._times)

    def acquire(self) -> float:
        """Record an event if it fits and return 0; otherwise the seconds until one would fit."""
        now = self._clock()
        self._trim(now)
        if len(self._times) < self.limit:
            self._times.append(now)
            return 0.0
        return self._times[0] + self.window - now
