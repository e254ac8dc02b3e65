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
class LegPrice:
    """One price behind a course, as the book held it when the course was priced."""

    source: str  #: the exchanger, e.g. ``binance``
    instrument: str  #: the source's own name, e.g. ``BTCUSDT`` or ``bitcoin.rub``
    price: Decimal
    at: int  #: the leg's exchange time, ms since the epoch


@dataclass(frozen=True, slots=True)
class Course:
    """One direction's served value, with the prices behind it."""

    direction: str
    value: Decimal
    exchanger: str
    #: exchange time of the newest leg, ms: when the value last changed
    updated_at: int
    stale: bool
    via: tuple[str, ...] = ()
    #: every price behind the value, in the recipe's order, each with its own time
    legs: tuple[LegPrice, ...] = ()
    #: relative deviation from the other source's fresh value (None: only one is fresh)
    deviation: Decimal | None = None
    #: the deviation is beyond the guard's threshold
    disputed: bool = False


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


@dataclass(frozen=True, slots=True)
class _Evaluated:
    recipe: Recipe
    value: Decimal
    legs: tuple[LegPrice, ...]
    fresh_until: float

    @property
    def updated_at(self) -> int:
        """The newest leg's time: when the value last changed."""
        return max((leg.at for leg in self.legs), default=0)

    @property
    def oldest_at(self) -> int:
        """The oldest leg's time: every input is at least this new."""
        return min((leg.at for leg in self.legs), default=0)


def _evaluate(recipe: Recipe, book: RateBook, budgets: Budgets) -> _Evaluated:
    """The recipe's value and legs; raises KeyError when a leg is unknown."""
    value = Decimal(1)
    legs = []
    fresh_until = float("inf")
    for leg in recipe.legs:
        tick = book.ticks[leg.key]
        price = tick.price
        value = _CONTEXT.multiply(value, price) if leg.power > 0 else _CONTEXT.divide(value, price)
        legs.append(LegPrice(leg.source, leg.instrument, price, tick.exchange_ts))
        alive_at = book.alive_at(leg.key)
        leg_until = float("-inf") if alive_at is None else alive_at + budgets.of(leg.role)
        fresh_until = min(fresh_until, leg_until)
    return _Evaluated(recipe, _round(value), tuple(legs), fresh_until)


def _course(direction: str, evaluated: _Evaluated, stale: bool) -> Course:
    return Course(
        direction,
        evaluated.value,
        evaluated.recipe.exchanger,
        evaluated.updated_at,
        stale,
        evaluated.recipe.via,
        evaluated.legs,
    )


def price_direction(
    direction: str, book: RateBook, now: float, budgets: Budgets, exchanger: str | None = None
) -> tuple[Course | None, float]:
    """The course for ``direction`` and until when it stays as it is (``inf`` if stale).

    The first recipe (of ``exchanger`` only, when given) whose legs are all fresh wins; when
    none is fresh, the one with the newest data is served, marked stale.
    """
    stale: _Evaluated | None = None
    for recipe in RECIPES[direction]:
        if exchanger is not None and recipe.exchanger != exchanger:
            continue
        try:
            evaluated = _evaluate(recipe, book, budgets)
        except KeyError:
            continue
        if evaluated.fresh_until > now:
            return _course(direction, evaluated, False), evaluated.fresh_until
        # The same rule as before legs were shown: the recipe whose oldest input is newest.
        if stale is None or evaluated.oldest_at > stale.oldest_at:
            stale = evaluated
    if stale is None:
        return None, float("inf")
    return _course(direction, stale, True), float("inf")


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
