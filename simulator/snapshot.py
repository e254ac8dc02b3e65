"""CoinGecko's view of the simulated market: derived from the walk, refreshed once per cache period.

CoinGecko caches ``/simple/price`` for about a minute, so its values lag the exchanges and move in
steps. The simulator derives them from the same walk the Binance endpoints serve, with the same
recipes the gateway uses:

* ``bitcoin.usd = BTCUSDT / USDCUSDT``, ``ethereum.usd = ETHUSDT / USDCUSDT``;
* ``tether.usd = 1 / USDCUSDT``;
* ``<coin>.rub = <coin>.usd * USD-RUB``.

Pure: time is injected, so a test decides when the cache period has passed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from common.markets import COINGECKO_IDS, COINGECKO_VS
from simulator.market import Market

#: CoinGecko answers with up to about 15 significant digits; eight decimals keep BTC-RUB there.
PLACES = Decimal("0.00000001")


def coingecko_values(
    prices: Mapping[str, Decimal], usd_rub: Decimal
) -> dict[str, dict[str, Decimal]]:
    """``{coin: {vs: value}}`` for every coin and vs currency the project reads."""
    usdc = prices["USDCUSDT"]
    usd = {
        "bitcoin": prices["BTCUSDT"] / usdc,
        "ethereum": prices["ETHUSDT"] / usdc,
        "tether": Decimal(1) / usdc,
    }
    fiat = {"usd": Decimal(1), "rub": usd_rub}
    return {
        coin: {vs: (usd[coin] * fiat[vs]).quantize(PLACES) for vs in COINGECKO_VS}
        for coin in COINGECKO_IDS
    }


@dataclass(frozen=True)
class Snapshot:
    """CoinGecko's values as of one moment."""

    values: dict[str, dict[str, Decimal]]
    last_updated_at: int  #: unix seconds of the snapshot
    step: int  #: the market step it was taken at


class SnapshotCache:
    """A new snapshot once the last one is ``period`` seconds old, like CoinGecko's cache."""

    def __init__(self, period: float, clock: Callable[[], float] = time.time) -> None:
        self.period = period
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._taken = 0.0

    def get(self, market: Market) -> Snapshot:
        """The current snapshot, refreshed from ``market`` if it expired."""
        now = self._clock()
        if self._snapshot is None or now - self._taken >= self.period:
            self._snapshot = Snapshot(
                values=coingecko_values(market.prices(), market.usd_rub),
                last_updated_at=int(now),
                step=market.step,
            )
            self._taken = now
        return self._snapshot
