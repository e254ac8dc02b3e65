"""The guard against a wrong price: each direction's served value checked against the other
source's fresh value. Pure: values in, a verdict out; pricing calls it once per direction and
exchanger filter whenever the book changes, so serving an answer costs nothing more.

*Deviation* is the served value's, relative to the other source's: ``served / other - 1``,
signed (negative when the served value is the lower), rounded half-even to 6 places.

*Disputed* is symmetric, so that which source is served does not change the verdict: the larger
value exceeds the smaller by more than ``max_deviation`` of it. A served direction switched to
the other source by ``prefer-aggregate`` stays disputed until the two agree again.

Policies:

* ``flag``: serve by source priority and mark the course disputed.
* ``prefer-aggregate``: a disputed direction served by Binance (one venue's book) is served from
  CoinGecko's aggregate of many venues instead, marked disputed, until the two agree again.
  An ``exchanger`` filter is obeyed either way: it asks for one source by name.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from common.markets import BINANCE, COINGECKO

_CONTEXT = decimal.Context(prec=28, rounding=decimal.ROUND_HALF_EVEN)
DEVIATION_QUANTUM = Decimal("1e-6")


class Policy(str, Enum):
    """What a dispute changes in what is served."""

    FLAG = "flag"
    PREFER_AGGREGATE = "prefer-aggregate"


@dataclass(frozen=True, slots=True)
class Guard:
    """The guard's settings."""

    #: 2 %: see .env.sample and the README ("The guard") for why.
    max_deviation: Decimal = Decimal("0.02")
    policy: Policy = Policy.FLAG


def deviation(served: Decimal, other: Decimal) -> Decimal:
    """``served / other - 1``, half-even to 6 places, in plain notation (never ``1E-6``)."""
    ratio = _CONTEXT.divide(served, other)
    value = _CONTEXT.subtract(ratio, Decimal(1)).quantize(DEVIATION_QUANTUM, context=_CONTEXT)
    text = format(value.normalize(_CONTEXT), "f")
    return Decimal(text if "." in text else text + ".0")


def disputed(first: Decimal, second: Decimal, max_deviation: Decimal) -> bool:
    """The larger of two values exceeds the smaller by more than ``max_deviation`` of it."""
    low, high = sorted((first, second))
    if low <= 0:
        return True  # a price at or below zero is wrong whatever the other says
    return _CONTEXT.divide(high, low) - 1 > max_deviation


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the guard says of one direction's served value."""

    #: serve the other source's value instead (``prefer-aggregate``)
    switch: bool
    #: the served value's deviation from the other's; None when there is no other fresh value
    deviation: Decimal | None
    disputed: bool


#: No other fresh value: nothing to compare.
UNCHECKED = Verdict(switch=False, deviation=None, disputed=False)


def judge(
    served: tuple[str, Decimal],
    other: tuple[str, Decimal] | None,
    guard: Guard,
    filtered: bool = False,
) -> Verdict:
    """The verdict on ``served`` (source, value) against ``other``'s fresh value.

    ``filtered``: the client asked for the served source by name, so it is never switched.
    """
    if other is None:
        return UNCHECKED
    (source, value), (other_source, other_value) = served, other
    is_disputed = disputed(value, other_value, guard.max_deviation)
    switch = (
        is_disputed
        and not filtered
        and guard.policy is Policy.PREFER_AGGREGATE
        and source == BINANCE
        and other_source == COINGECKO
    )
    if switch:
        value, other_value = other_value, value
    # Feeders pass only positive prices; a value rounded to zero has no ratio to show.
    ratio = deviation(value, other_value) if other_value > 0 else None
    return Verdict(switch, ratio, is_disputed)
