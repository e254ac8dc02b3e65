"""The simulated market: a seeded random walk of Binance's three books and of USD-RUB.

Pure and deterministic: prices are whole numbers of price ticks turned into exact ``Decimal``s,
every walk draws from its own ``random.Random`` seeded with ``"<seed>:<name>"``, so the n-th step's
prices are the same on every run and on every machine. Each step pulls the price gently back
towards where it started, so a long run stays near realistic levels.
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
    lot: Decimal = Decimal("0.00001")  #: volume increment
    volume_start: Decimal = Decimal(0)  #: 24h base volume before the first step
    lots_per_step: int = 0  #: at most this many lots trade per step


#: Realistic levels: BTC and ETH with cent ticks, USDC in hundredths of a basis point.
SPECS: dict[str, WalkSpec] = {
    "BTCUSDT": WalkSpec(
        start=Decimal("97000.00"),
        tick=Decimal("0.01"),
        sigma=1500.0,
        reversion=0.002,
        band=Decimal("0.2"),
        lot=Decimal("0.00001"),
        volume_start=Decimal("15234.56789000"),
        lots_per_step=50_000,
    ),
    "ETHUSDT": WalkSpec(
        start=Decimal("3400.00"),
        tick=Decimal("0.01"),
        sigma=120.0,
        reversion=0.002,
        band=Decimal("0.2"),
        lot=Decimal("0.0001"),
        volume_start=Decimal("312345.67890000"),
        lots_per_step=100_000,
    ),
    "USDCUSDT": WalkSpec(
        start=Decimal("1.0001"),
        tick=Decimal("0.0001"),
        sigma=0.35,
        reversion=0.05,
        band=Decimal("0.001"),
        lot=Decimal("1"),
        volume_start=Decimal("812345678.00000000"),
        lots_per_step=200_000,
    ),
}


def usd_rub_spec(start: Decimal) -> WalkSpec:
    """The fiat leg: slow, in 1/10000 rouble ticks."""
    tick = Decimal("0.0001")
    return WalkSpec(
        start=start.quantize(tick), tick=tick, sigma=8.0, reversion=0.001, band=Decimal("0.2")
    )


@dataclass(frozen=True)
class Ticker:
    """One symbol's rolling statistics, as a miniTicker reports them."""

    symbol: str
    close: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal  #: base asset
    quote_volume: Decimal


class Walk:
    """One price's random walk, with the volume traded along the way."""

    def __init__(self, name: str, spec: WalkSpec, seed: int) -> None:
        self.name = name
        self.spec = spec
        self._rng = random.Random(f"{seed}:{name}")
        self._start = int(spec.start / spec.tick)
        spread = int(spec.start * spec.band / spec.tick)
        self._floor = max(1, self._start - spread)
        self._ceiling = self._start + spread
        self._ticks = self._start
        self._high = self._low = self._start
        self._lots = 0
        self._quote = spec.volume_start * spec.start

    @property
    def price(self) -> Decimal:
        return self._ticks * self.spec.tick

    def advance(self) -> None:
        """Take one step."""
        pull = self.spec.reversion * (self._ticks - self._start)
        move = round(self._rng.gauss(0.0, self.spec.sigma) - pull)
        self._ticks = min(self._ceiling, max(self._floor, self._ticks + move))
        self._high = max(self._high, self._ticks)
        self._low = min(self._low, self._ticks)
        if self.spec.lots_per_step:
            lots = self._rng.randint(0, self.spec.lots_per_step)
            self._lots += lots
            self._quote += lots * self.spec.lot * self.price

    def ticker(self) -> Ticker:
        tick = self.spec.tick
        return Ticker(
            symbol=self.name,
            close=self.price,
            open=self._start * tick,
            high=self._high * tick,
            low=self._low * tick,
            volume=self.spec.volume_start + self._lots * self.spec.lot,
            quote_volume=self._quote,
        )


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

    def advance_to(self, step: int) -> None:
        """Step forward until ``step`` (tests and replays)."""
        while self.step < step:
            self.advance()

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
