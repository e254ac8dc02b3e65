"""The simulated market: a seeded random walk of Binance's three books and of USD-RUB.

Pure and deterministic: prices are whole numbers of price ticks turned into exact ``Decimal``s,
every walk draws from its own ``random.Random`` seeded with ``"<seed>:<name>"``, so the n-th
step's prices are the same on every run and on every machine. Each step pulls the price gently
back towards where it started, so a long run stays near realistic levels.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from common.markets import BINANCE_SYMBOLS

USD_RUB = "USDRUB"


@dataclass(frozen=True)
class WalkSpec:
    """How one price moves: in ticks of ``tick``, around and within bounds of ``start``."""

    start: Decimal
    tick: Decimal  #: price increment, Binance's tick size for the symbol
    sigma: float  #: standard deviation of one step, in ticks
    reversion: float  #: share of the distance to ``start`` pulled back per step
    band: Decimal  #: the price stays within ``start * (1 ± band)``
    volume: Decimal = Decimal(0)  #: the 24 h base volume a mini ticker reports (constant)


#: Realistic levels: BTC and ETH with cent ticks, USDC in hundredths of a basis point.
SPECS: dict[str, WalkSpec] = {
    "BTCUSDT": WalkSpec(
        Decimal("97000.00"), Decimal("0.01"), 1500.0, 0.002, Decimal("0.2"), Decimal("15234.56789")
    ),
    "ETHUSDT": WalkSpec(
        Decimal("3400.00"), Decimal("0.01"), 120.0, 0.002, Decimal("0.2"), Decimal("312345.6789")
    ),
    "USDCUSDT": WalkSpec(
        Decimal("1.0001"), Decimal("0.0001"), 0.35, 0.05, Decimal("0.001"), Decimal("812345678")
    ),
}


def usd_rub_spec(start: Decimal) -> WalkSpec:
    """The fiat leg: slow, in 1/10000 rouble ticks."""
    tick = Decimal("0.0001")
    return WalkSpec(start.quantize(tick), tick, sigma=8.0, reversion=0.001, band=Decimal("0.2"))


@dataclass(frozen=True)
class Ticker:
    """What a mini ticker reports of one symbol."""

    symbol: str
    open: Decimal  #: where the walk started
    close: Decimal  #: the last price
    volume: Decimal


class Walk:
    """One price's random walk."""

    def __init__(self, name: str, spec: WalkSpec, seed: int) -> None:
        self.name = name
        self.spec = spec
        self._rng = random.Random(f"{seed}:{name}")
        self._start = int(spec.start / spec.tick)
        spread = int(spec.start * spec.band / spec.tick)
        self._floor = max(1, self._start - spread)
        self._ceiling = self._start + spread
        self._ticks = self._start

    @property
    def price(self) -> Decimal:
        return self._ticks * self.spec.tick

    def advance(self) -> None:
        """Take one step."""
        pull = self.spec.reversion * (self._ticks - self._start)
        move = round(self._rng.gauss(0.0, self.spec.sigma) - pull)
        self._ticks = min(self._ceiling, max(self._floor, self._ticks + move))

    def ticker(self) -> Ticker:
        return Ticker(self.name, self._start * self.spec.tick, self.price, self.spec.volume)


class Market:
    """Binance's three books and the USD-RUB rate, moving one step at a time."""

    def __init__(self, seed: int = 42, usd_rub: Decimal = Decimal("92.5")) -> None:
        self.seed = seed
        self.step = 0
        self._walks = {symbol: Walk(symbol, SPECS[symbol], seed) for symbol in BINANCE_SYMBOLS}
        self._usd_rub = Walk(USD_RUB, usd_rub_spec(usd_rub), seed)

    def advance(self) -> None:
        """Move every price one step."""
        for walk in self._walks.values():
            walk.advance()
        self._usd_rub.advance()
        self.step += 1

    def price(self, symbol: str) -> Decimal:
        return self._walks[symbol].price

    def prices(self) -> dict[str, Decimal]:
        """The last price of every Binance symbol."""
        return {symbol: walk.price for symbol, walk in self._walks.items()}

    def ticker(self, symbol: str) -> Ticker:
        return self._walks[symbol].ticker()

    @property
    def usd_rub(self) -> Decimal:
        return self._usd_rub.price
