"""The gateway's state: the book, the current snapshot, and what changed between snapshots.

Pure apart from logging: callers pass the monotonic time, and re-price when a message arrived
or when ``valid_until`` passes (the moment the first fresh course would go stale).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.wire import Message, Tick
from gateway.book import RateBook
from gateway.pricing import Budgets, Course, price_all
from gateway.recipes import DIRECTIONS
from gateway.render import FILTERS, Snapshot

log = logging.getLogger(__name__)


def _serving(course: Course | None) -> str:
    if course is None:
        return "nothing"
    return f"{course.exchanger} (stale)" if course.stale else course.exchanger


class Rates:
    """Holds the book and the snapshot the API answers from."""

    def __init__(self, budgets: Budgets, cache_max_age: int = 1) -> None:
        self.book = RateBook()
        self.budgets = budgets
        self.cache_control = f"public, max-age={cache_max_age}".encode()
        self.snapshot = Snapshot(
            {name: price_all(self.book, 0, budgets, name) for name in FILTERS}, self.cache_control
        )
        self.valid_until = float("inf")
        self.messages = 0
        #: called with (direction, previous course, new course) when the serving source changes
        self.on_switch: list[Callable[[str, Course | None, Course | None], None]] = []

    def apply(self, message: Message, now: float) -> None:
        """Take one message from the mesh; call :meth:`reprice` after a batch."""
        self.messages += 1
        if isinstance(message, Tick):
            self.book.apply_tick(message, now)
        else:
            self.book.apply_status(message, now)

    def reprice(self, now: float) -> bool:
        """Price every direction at ``now``; True if the answers changed."""
        pricings = {name: price_all(self.book, now, self.budgets, name) for name in FILTERS}
        self.valid_until = min(p.valid_until for p in pricings.values())
        snapshot = Snapshot(pricings, self.cache_control)
        if snapshot.same_courses(self.snapshot):
            return False
        previous, self.snapshot = self.snapshot, snapshot
        self._report_switches(previous, snapshot)
        return True

    def has_data(self) -> bool:
        return any(course is not None for course in self.snapshot.pricings[None].courses)

    def _report_switches(self, previous: Snapshot, current: Snapshot) -> None:
        changes: dict[tuple[str, str], list[str]] = {}
        before, after = previous.pricings[None].courses, current.pricings[None].courses
        for direction, old, new in zip(DIRECTIONS, before, after):
            if _serving(old) != _serving(new):
                changes.setdefault((_serving(old), _serving(new)), []).append(direction)
                for callback in self.on_switch:
                    callback(direction, old, new)
        for (old, new), directions in changes.items():
            listed = ", ".join(directions)
            if new.endswith("(stale)") and old != "nothing":
                log.critical("every source is down for %s: serving %s", listed, new)
            elif old == "nothing" or old.endswith("(stale)") or new == "binance":
                # A first value (even one not yet confirmed live), a recovery, or a return to
                # the first source.
                log.info("%s now served by %s (was %s)", listed, new, old)
            else:
                log.warning("failover for %s: %s -> %s", listed, old, new)
