"""The eight directions and how each is priced: the one table of recipes, as data.

Binance has no fiat books, so USD is measured through USDC (``BTCUSDT / USDCUSDT``) and RUB
through CoinGecko's USD-RUB ratio (its ``rub / usd`` for one coin). Recipes are listed in source
priority: the first one whose legs are all fresh prices the direction.

A leg's *role* sets how long its value stays fresh without news from its feeder: live exchange
books go stale in seconds, CoinGecko's 60 s cache in minutes, the fiat ratio later still.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from common.markets import BINANCE, COINGECKO


class Role(Enum):
    LIVE = "live"  #: a live exchange book (Binance)
    SLOW = "slow"  #: a CoinGecko value used directly
    FIAT = "fiat"  #: the USD-RUB ratio


@dataclass(frozen=True, slots=True)
class Leg:
    """One factor of a recipe: ``price(source, instrument) ** power``."""

    source: str
    instrument: str
    power: int  #: +1 multiplies, -1 divides
    role: Role

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.instrument)


@dataclass(frozen=True, slots=True)
class Recipe:
    """One way to price a direction: the product of its legs, produced by ``exchanger``."""

    exchanger: str  #: the source that produced the direction
    legs: tuple[Leg, ...]
    #: other sources a cross rate goes through, e.g. ``("coingecko",)`` for BTC-RUB; derived
    #: once here, as every re-pricing reads it
    via: tuple[str, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        via = tuple(sorted({leg.source for leg in self.legs} - {self.exchanger}))
        object.__setattr__(self, "via", via)


def _binance(instrument: str, power: int = 1) -> Leg:
    return Leg(BINANCE, instrument, power, Role.LIVE)


def _coingecko(instrument: str) -> Leg:
    return Leg(COINGECKO, instrument, 1, Role.SLOW)


#: USD per USDC, from Binance's USDCUSDT book.
_PER_USD = _binance("USDCUSDT", -1)
#: RUB per USD: CoinGecko's rub/usd ratio for bitcoin (the most significant digits of any coin).
_USD_RUB = (
    Leg(COINGECKO, "bitcoin.rub", 1, Role.FIAT),
    Leg(COINGECKO, "bitcoin.usd", -1, Role.FIAT),
)

# fmt: off
RECIPES: dict[str, tuple[Recipe, ...]] = {
    "BTC-USD":     (Recipe(BINANCE, (_binance("BTCUSDT"), _PER_USD)),
                    Recipe(COINGECKO, (_coingecko("bitcoin.usd"),))),
    "BTC-RUB":     (Recipe(BINANCE, (_binance("BTCUSDT"), _PER_USD, *_USD_RUB)),
                    Recipe(COINGECKO, (_coingecko("bitcoin.rub"),))),
    "ETH-USD":     (Recipe(BINANCE, (_binance("ETHUSDT"), _PER_USD)),
                    Recipe(COINGECKO, (_coingecko("ethereum.usd"),))),
    "ETH-RUB":     (Recipe(BINANCE, (_binance("ETHUSDT"), _PER_USD, *_USD_RUB)),
                    Recipe(COINGECKO, (_coingecko("ethereum.rub"),))),
    "USDTTRC-USD": (Recipe(BINANCE, (_PER_USD,)),
                    Recipe(COINGECKO, (_coingecko("tether.usd"),))),
    "USDTTRC-RUB": (Recipe(BINANCE, (_PER_USD, *_USD_RUB)),
                    Recipe(COINGECKO, (_coingecko("tether.rub"),))),
    "USDTERC-USD": (Recipe(BINANCE, (_PER_USD,)),
                    Recipe(COINGECKO, (_coingecko("tether.usd"),))),
    "USDTERC-RUB": (Recipe(BINANCE, (_PER_USD, *_USD_RUB)),
                    Recipe(COINGECKO, (_coingecko("tether.rub"),))),
}
# fmt: on

#: The fixed order of courses in every answer: the assignment's.
DIRECTIONS: tuple[str, ...] = tuple(RECIPES)


def base_of(direction: str) -> str:
    return direction.partition("-")[0]


def quote_of(direction: str) -> str:
    return direction.partition("-")[2]


BASES: tuple[str, ...] = tuple(dict.fromkeys(map(base_of, DIRECTIONS)))
QUOTES: tuple[str, ...] = tuple(dict.fromkeys(map(quote_of, DIRECTIONS)))
#: Sources in priority order.
EXCHANGERS: tuple[str, ...] = (BINANCE, COINGECKO)
#: How a source's own values age: Binance's books are live, CoinGecko refreshes every minute.
SOURCE_ROLE: dict[str, Role] = {BINANCE: Role.LIVE, COINGECKO: Role.SLOW}
