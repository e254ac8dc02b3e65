"""The gateway's state: the book, the current pricings, and what changed between them.

Pure apart from logging: callers pass the monotonic time, and re-price when a message arrived
or when ``valid_until`` passes (the moment the first fresh course would go stale). It knows
nothing of HTTP: whoever answers from the pricings asks to be told when they change.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal

from common.markets import BINANCE, COINGECKO, SOURCE_INSTRUMENTS
from common.wire import Message, Tick
from gateway.book import RateBook
from gateway.guard import Guard
from gateway.pricing import Budgets, Course, Pricing, price_filters
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

    def __init__(self, budgets: Budgets, guard: Guard = Guard()) -> None:
        self.book = RateBook()
        self.budgets = budgets
        self.guard = guard
        self.pricings: Pricings = price_filters(self.book, 0, budgets, FILTERS, guard)
        self._listeners: list[Callable[[Pricings], None]] = []
        self.valid_until = float("inf")
        self.messages = 0
        #: (direction, from, to) -> how often the direction's serving source changed
        self.switches: dict[tuple[str, str, str], int] = {}
        #: source -> every instrument of it fresh
        self.source_up: dict[str, bool] = {}
        #: direction -> how often it became disputed
        self.disputes: dict[str, int] = {}

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
        pricings = price_filters(self.book, now, self.budgets, FILTERS, self.guard)
        sources_until = self._update_sources(now)
        self.valid_until = min(sources_until, *(p.valid_until for p in pricings.values()))
        if _same_courses(pricings, self.pricings):
            return False
        previous, self.pricings = self.pricings, pricings
        self._report_switches(previous, pricings)
        self._report_disputes(previous[None], pricings[None])
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

    def _report_disputes(self, previous: Pricing, current: Pricing) -> None:
        """WARNING when a direction becomes disputed, INFO when it clears: once each."""
        for direction, old, new in zip(DIRECTIONS, previous.courses, current.courses):
            was = old is not None and old.disputed
            if new is not None and new.disputed and not was:
                self.disputes[direction] = self.disputes.get(direction, 0) + 1
                log.warning(
                    "%s disputed: served by %s, %s off the other source (threshold %s)",
                    direction,
                    new.exchanger,
                    _percent(new.deviation),
                    _percent(self.guard.max_deviation, sign=""),
                )
            elif was and not (new is not None and new.disputed):
                if new is None or new.deviation is None:
                    log.info("%s no longer disputed: only one source is fresh", direction)
                else:
                    log.info(
                        "%s no longer disputed: served by %s, %s off the other source",
                        direction,
                        new.exchanger,
                        _percent(new.deviation),
                    )


def _percent(ratio: Decimal | None, sign: str = "+") -> str:
    return "?" if ratio is None else f"{ratio * 100:{sign}.2f}%"
