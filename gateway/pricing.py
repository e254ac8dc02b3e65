"""Pricing the directions from the book by the recipe table. Pure: the book and a time in,
courses out.

Values are computed with 28 significant digits and rounded half-even to 8 decimal places,
so every replica holding the same ticks computes the same bytes.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal

from gateway.book import RateBook
from gateway.recipes import DIRECTIONS, RECIPES, Recipe, Role

_CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
QUANTUM = Decimal("1e-8")


@dataclass(frozen=True, slots=True)
class Course:
    """One direction's served value."""

    direction: str
    value: Decimal
    exchanger: str
    #: exchange time of the oldest leg, ms: every input is at least this new
    updated_at: int
    stale: bool
    via: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Budgets:
    """How long, in seconds, a leg of each role stays fresh without news of its stream."""

    live: float = 4.0
    slow: float = 150.0
    fiat: float = 900.0

    def of(self, role: Role) -> float:
        return {Role.LIVE: self.live, Role.SLOW: self.slow, Role.FIAT: self.fiat}[role]


def _round(value: Decimal) -> Decimal:
    rounded = value.quantize(QUANTUM, context=_CONTEXT)
    # Plain notation without trailing zeros (97123.45, not 97123.45000000 or 1E+2), but always
    # with a fraction (1.0, not 1), so every client reads every value as the same number type.
    text = format(rounded.normalize(_CONTEXT), "f")
    return Decimal(text if "." in text else text + ".0")


def _evaluate(recipe: Recipe, book: RateBook, budgets: Budgets) -> tuple[Decimal, int, float]:
    """``(value, updated_at, fresh_until)``; raises KeyError when a leg is unknown."""
    value = Decimal(1)
    updated_at = None
    fresh_until = float("inf")
    for leg in recipe.legs:
        tick = book.ticks[leg.key]
        price = tick.price
        value = _CONTEXT.multiply(value, price) if leg.power > 0 else _CONTEXT.divide(value, price)
        updated_at = tick.exchange_ts if updated_at is None else min(updated_at, tick.exchange_ts)
        alive_at = book.alive_at(leg.key)
        leg_until = float("-inf") if alive_at is None else alive_at + budgets.of(leg.role)
        fresh_until = min(fresh_until, leg_until)
    return _round(value), updated_at or 0, fresh_until


def price_direction(
    direction: str, book: RateBook, now: float, budgets: Budgets, exchanger: str | None = None
) -> tuple[Course | None, float]:
    """The course for ``direction`` and until when it stays as it is (``inf`` if stale).

    The first recipe (of ``exchanger`` only, when given) whose legs are all fresh wins; when
    none is fresh, the one with the newest data is served, marked stale.
    """
    stale: Course | None = None
    for recipe in RECIPES[direction]:
        if exchanger is not None and recipe.exchanger != exchanger:
            continue
        try:
            value, updated_at, fresh_until = _evaluate(recipe, book, budgets)
        except KeyError:
            continue
        if fresh_until > now:
            return Course(direction, value, recipe.exchanger, updated_at, False, recipe.via), (
                fresh_until
            )
        if stale is None or updated_at > stale.updated_at:
            stale = Course(direction, value, recipe.exchanger, updated_at, True, recipe.via)
    return stale, float("inf")


@dataclass(frozen=True, slots=True)
class Pricing:
    """Every direction priced for one exchanger filter, in the fixed order."""

    courses: tuple[Course | None, ...]
    #: when the first fresh course goes stale: re-price then
    valid_until: float


def price_all(
    book: RateBook, now: float, budgets: Budgets, exchanger: str | None = None
) -> Pricing:
    """Every direction priced at ``now``, by every recipe or by ``exchanger``'s only."""
    courses = []
    valid_until = float("inf")
    for direction in DIRECTIONS:
        course, until = price_direction(direction, book, now, budgets, exchanger)
        courses.append(course)
        valid_until = min(valid_until, until)
    return Pricing(tuple(courses), valid_until)
