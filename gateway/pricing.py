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
from gateway.guard import UNCHECKED, Guard, Verdict, judge
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
        if role is Role.LIVE:
            return self.live
        return self.slow if role is Role.SLOW else self.fiat


#: Rounding only: wide enough for any amount a conversion multiplies (quantizing needs every
#: digit of the result; the pricing arithmetic itself keeps _CONTEXT's 28).
_ROUNDING = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)


def round_course(value: Decimal) -> Decimal:
    """The courses' rounding rule: half-even to 8 places (conversions follow it too)."""
    rounded = value.quantize(QUANTUM, context=_ROUNDING)
    # Plain notation without trailing zeros (97123.45, not 97123.45000000 or 1E+2), but always
    # with a fraction (1.0, not 1), so every client reads every value as the same number type.
    text = format(rounded.normalize(_ROUNDING), "f")
    return Decimal(text if "." in text else text + ".0")


@dataclass(frozen=True, slots=True)
class _Evaluated:
    recipe: Recipe
    value: Decimal
    legs: tuple[LegPrice, ...]
    fresh_until: float
    #: the newest leg's time: when the value last changed
    updated_at: int
    #: the oldest leg's time: every input is at least this new
    oldest_at: int


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
    times = [leg.at for leg in legs] or [0]
    return _Evaluated(recipe, round_course(value), tuple(legs), fresh_until, max(times), min(times))


def _course(
    direction: str,
    evaluated: _Evaluated,
    stale: bool,
    deviation: Decimal | None = None,
    disputed: bool = False,
) -> Course:
    return Course(
        direction,
        evaluated.value,
        evaluated.recipe.exchanger,
        evaluated.updated_at,
        stale,
        evaluated.recipe.via,
        evaluated.legs,
        deviation,
        disputed,
    )


def _candidates(direction: str, book: RateBook, budgets: Budgets) -> list[_Evaluated]:
    """Every recipe of ``direction`` whose legs are all known, in source priority."""
    evaluated = []
    for recipe in RECIPES[direction]:
        try:
            evaluated.append(_evaluate(recipe, book, budgets))
        except KeyError:
            continue
    return evaluated


def _judged(
    first: _Evaluated,
    other: _Evaluated | None,
    guard: Guard,
    filtered: bool,
    verdicts: dict[tuple[str, str], bool],
) -> Verdict:
    """The guard's verdict on ``first`` against ``other``; a filtered answer, which shows no
    deviation, reuses the dispute judged for the same pair of sources."""
    if other is None:
        return UNCHECKED
    pair = (first.recipe.exchanger, other.recipe.exchanger)
    known = verdicts.get(pair)
    if filtered and known is not None:
        return Verdict(False, None, known)
    verdict = judge((pair[0], first.value), (pair[1], other.value), guard, filtered)
    verdicts[pair] = verdicts[pair[::-1]] = verdict.disputed
    return verdict


def _choose(  # pylint: disable=too-many-arguments,too-many-positional-arguments
    direction: str,
    candidates: list[_Evaluated],
    now: float,
    guard: Guard,
    exchanger: str | None,
    verdicts: dict[tuple[str, str], bool],
) -> tuple[Course | None, float]:
    """The course for one exchanger filter from the direction's evaluated recipes.

    ``verdicts`` holds the disputes already judged for this direction, per pair of sources:
    every filter but the first reuses them (the verdict is symmetric)."""
    fresh = [c for c in candidates if c.fresh_until > now]
    first = next((c for c in fresh if exchanger in (None, c.recipe.exchanger)), None)
    if first is None:
        eligible = [c for c in candidates if exchanger in (None, c.recipe.exchanger)]
        # The same rule as before legs were shown: the recipe whose oldest input is newest.
        stale = max(eligible, key=lambda c: c.oldest_at, default=None)
        return (None if stale is None else _course(direction, stale, True)), float("inf")
    other = next((c for c in fresh if c.recipe.exchanger != first.recipe.exchanger), None)
    verdict = _judged(first, other, guard, exchanger is not None, verdicts)
    served = other if verdict.switch and other is not None else first
    # An answer filtered by exchanger shows that source's values: it keeps the verdict but not
    # the deviation, which moves with the other source's every tick and would change the
    # answer (and its ETag) as often, though the values asked for did not change.
    deviation = verdict.deviation if exchanger is None else None
    course = _course(direction, served, False, deviation, verdict.disputed)
    # The verdict changes when any fresh value goes stale, not only the served one.
    return course, min(c.fresh_until for c in fresh)


def price_direction(
    direction: str,
    book: RateBook,
    now: float,
    budgets: Budgets,
    exchanger: str | None = None,
    guard: Guard = Guard(),
) -> tuple[Course | None, float]:
    """The course for ``direction`` and until when it stays as it is (``inf`` if stale).

    The first recipe (of ``exchanger`` only, when given) whose legs are all fresh wins, checked
    by ``guard`` against the other source's fresh value (which may serve that one instead);
    when none is fresh, the one with the newest data is served, marked stale.
    """
    return _choose(direction, _candidates(direction, book, budgets), now, guard, exchanger, {})


@dataclass(frozen=True, slots=True)
class Pricing:
    """Every direction priced for one exchanger filter, in the fixed order."""

    courses: tuple[Course | None, ...]
    #: when the first fresh course goes stale: re-price then
    valid_until: float


def price_all(
    book: RateBook,
    now: float,
    budgets: Budgets,
    exchanger: str | None = None,
    guard: Guard = Guard(),
) -> Pricing:
    """Every direction priced at ``now``, by every recipe or by ``exchanger``'s only."""
    return price_filters(book, now, budgets, (exchanger,), guard)[exchanger]


def price_filters(
    book: RateBook,
    now: float,
    budgets: Budgets,
    filters: tuple[str | None, ...],
    guard: Guard = Guard(),
) -> dict[str | None, Pricing]:
    """Every direction priced at ``now`` for each exchanger filter (None: every source), each
    recipe evaluated once for all of them."""
    courses: dict[str | None, list[Course | None]] = {name: [] for name in filters}
    valid_until = dict.fromkeys(filters, float("inf"))
    for direction in DIRECTIONS:
        candidates = _candidates(direction, book, budgets)
        verdicts: dict[tuple[str, str], bool] = {}
        for name in filters:
            course, until = _choose(direction, candidates, now, guard, name, verdicts)
            courses[name].append(course)
            valid_until[name] = min(valid_until[name], until)
    return {name: Pricing(tuple(courses[name]), valid_until[name]) for name in filters}
