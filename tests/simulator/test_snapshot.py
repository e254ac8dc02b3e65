from __future__ import annotations

from decimal import Decimal

from simulator.market import Market
from simulator.snapshot import PLACES, SnapshotCache, coingecko_values


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_values_follow_the_recipes():
    prices = {
        "BTCUSDT": Decimal("97000.00"),
        "ETHUSDT": Decimal("3400.00"),
        "USDCUSDT": Decimal("1.0001"),
    }
    values = coingecko_values(prices, Decimal("92.5000"))
    assert list(values) == ["bitcoin", "ethereum", "tether"]
    assert values["bitcoin"]["usd"] == Decimal("96990.30096990")
    assert values["bitcoin"]["rub"] == Decimal("8971602.83971603")
    assert values["ethereum"]["usd"] == Decimal("3399.66003400")
    assert values["tether"]["usd"] == Decimal("0.99990001")
    assert values["tether"]["rub"] == Decimal("92.49075092")
    for coin in values.values():
        assert list(coin) == ["usd", "rub"]
        assert all(value.as_tuple().exponent == -8 for value in coin.values())


def test_snapshot_is_the_walk_at_the_time_it_was_taken():
    market = Market(42)
    clock = Clock()
    cache = SnapshotCache(60.0, clock)
    market.advance_to(5)
    snapshot = cache.get(market)
    assert snapshot.step == 5
    assert snapshot.last_updated_at == 1_700_000_000
    prices = market.prices()
    usd = prices["BTCUSDT"] / prices["USDCUSDT"]
    assert snapshot.values["bitcoin"]["usd"] == usd.quantize(PLACES)
    assert snapshot.values["bitcoin"]["rub"] == (usd * market.usd_rub).quantize(PLACES)
    assert snapshot.values["tether"]["usd"] == (1 / prices["USDCUSDT"]).quantize(PLACES)


def test_snapshot_holds_for_the_cache_period_then_refreshes():
    market = Market(42)
    clock = Clock()
    cache = SnapshotCache(60.0, clock)
    first = cache.get(market)
    market.advance_to(59)
    clock.now += 59.9
    assert cache.get(market) is first
    clock.now += 0.1
    market.advance_to(60)
    second = cache.get(market)
    assert second.step == 60
    assert second.last_updated_at == 1_700_000_060
    assert second.values == coingecko_values(market.prices(), market.usd_rub)
