"""The gateway's state: the book, the current pricings, and what changed between them.

Pure apart from logging: callers pass the monotonic time, and re-price when a message arrived
or when ``valid_until`` passes (the moment the first fresh course would go stale). It knows
nothing of HTTP: whoever answers from the pricings asks to be told when they change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from common.markets import BINANCE, COINGECKO, SOURCE_INSTRUMENTS
from common.wire import Message, Tick
from gateway.book import RateBook
from gateway.pricing import Budgets, Course, Pricing, price_all
from gateway.recipes import DIRECTIONS, SOURCE_ROLE

log = logging.getLogger(__name__)

#: The exchanger filters priced on every change: none (every source, by priority), or one.
FILTERS: tuple[str | None, ...] = (None, BINANCE, COINGECKO)

#: Every direction priced for each filter in :data:`FILTERS`.
Pricings = dict[str | None, Pricing]


def _serving(course: Course | None) -> str:
    if course is None:
        return "nothing"
    return f"{course.exchanger} (stale)" if course.stale else course.exchanger


def _same_courses(first: Pricings, second: Pricings) -> bool:
    return all(first[name].courses == second[name].courses for name in FILTERS)


class Rates:
    """Holds the book and the pricings the API answers from."""

    def __init__(self, budgets: Budgets) -> None:
        self.book = RateBook()
        self.budgets = budgets
        self.pricings: Pricings = {name: price_all(self.book, 0, budgets, name) for name in FILTERS}
        self._listeners: list[Callable[[Pricings], None]] = []
        self.valid_until = float("inf")
        self.messages = 0
        #: (direction, from, to) -> how often the direction's serving source changed
        self.switches: dict[tuple[str, str, str], int] = {}
        #: source -> every instrument of it fresh
        self.source_up: dict[str, bool] = {}

    def on_change(self, listener: Callable[[Pricings], None]) -> None:
        """Call ``listener`` with the pricings now, and again every time their courses change."""
        self._listeners.append(listener)
        listener(self.pricings)

    def apply(self, message: Message, now: float) -> None:
        """Take one message from the mesh; call :meth:`reprice` after a batch."""
        self.messages += 1
        if isinstance(message, Tick):
            self.book.apply_tick(message, now)
        else:
            self.book.apply_status(message, now)

    def reprice(self, now: float) -> bool:
        """Price every direction at ``now``; True if any course changed."""
        pricings = {name: price_all(self.book, now, self.budgets, name) for name in FILTERS}
        sources_until = self._update_sources(now)
        self.valid_until = min(sources_until, *(p.valid_until for p in pricings.values()))
        if _same_courses(pricings, self.pricings):
            return False
        previous, self.pricings = self.pricings, pricings
        self._report_switches(previous, pricings)
        for listener in self._listeners:
            listener(pricings)
        return True

    def _update_sources(self, now: float) -> float:
        """Mark each source up or down (logging changes); when the first up one would go down."""
        earliest = float("inf")
        for source, instruments in SOURCE_INSTRUMENTS.items():
            budget = self.budgets.of(SOURCE_ROLE[source])
            alive = [self.book.alive_at((source, instrument)) for instrument in instruments]
            until = min((a + budget for a in alive if a is not None), default=float("-inf"))
            up = None not in alive and until > now
            if up:
                earliest = min(earliest, until)
            was = self.source_up.get(source)
            if up and not was:
                log.info("source %s up: every instrument fresh", source)
            elif was and not up:
                log.warning("source %s down: no sign of life within %g s", source, budget)
            self.source_up[source] = up
        return earliest

    def has_data(self) -> bool:
        return any(course is not None for course in self.pricings[None].courses)

    def _report_switches(self, previous: Pricings, current: Pricings) -> None:
        changes: dict[tuple[str, str], list[str]] = {}
        before, after = previous[None].courses, current[None].courses
        for direction, old, new in zip(DIRECTIONS, before, after):
            if _serving(old) != _serving(new):
                changes.setdefault((_serving(old), _serving(new)), []).append(direction)
                key = (direction, _serving(old), _serving(new))
                self.switches[key] = self.switches.get(key, 0) + 1
        for (was, now), directions in changes.items():
            listed = ", ".join(directions)
            if now.endswith("(stale)") and was != "nothing":
                log.critical("every source is down for %s: serving %s", listed, now)
            elif was == "nothing" or was.endswith("(stale)") or now == "binance":
                # A first value (even one not yet confirmed live), a recovery, or a return to
                # the first source.
                log.info("%s now served by %s (was %s)", listed, now, was)
            else:
                log.warning("failover for %s: %s -> %s", listed, was, now)
