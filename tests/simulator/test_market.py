from __future__ import annotations

from decimal import Decimal

from common.markets import BINANCE_SYMBOLS
from simulator.market import SPECS, Market


def advanced(market: Market, steps: int) -> Market:
    for _ in range(steps):
        market.advance()
    return market


def walk(seed: int, steps: int) -> list[tuple[dict[str, Decimal], Decimal]]:
    market = Market(seed)
    seen = []
    for _ in range(steps):
        market.advance()
        seen.append((market.prices(), market.usd_rub))
    return seen


def test_same_seed_gives_the_same_sequence():
    assert walk(42, 300) == walk(42, 300)


def test_a_different_seed_gives_a_different_sequence():
    first, second = walk(42, 50), walk(43, 50)
    for symbol in BINANCE_SYMBOLS[:2]:
        assert [step[0][symbol] for step in first] != [step[0][symbol] for step in second]


def test_the_nth_step_is_known_in_advance():
    """Pinned values: a change to the walk changes what every recorded test saw."""
    market = advanced(Market(42), 3)
    assert market.step == 3
    assert market.prices() == {
        "BTCUSDT": Decimal("97026.12"),
        "ETHUSDT": Decimal("3400.01"),
        "USDCUSDT": Decimal("1.0000"),
    }
    assert market.usd_rub == Decimal("92.4995")


def test_step_zero_is_the_starting_level():
    market = Market(7, usd_rub=Decimal("90.12345"))
    assert market.prices() == {symbol: SPECS[symbol].start for symbol in BINANCE_SYMBOLS}
    assert market.usd_rub == Decimal("90.1234")


def test_prices_keep_binance_precision():
    market = Market(42)
    for _ in range(500):
        market.advance()
        prices = market.prices()
        assert prices["BTCUSDT"].as_tuple().exponent == -2
        assert prices["ETHUSDT"].as_tuple().exponent == -2
        assert prices["USDCUSDT"].as_tuple().exponent == -4
        assert market.usd_rub.as_tuple().exponent == -4


def test_a_day_of_steps_stays_at_realistic_levels():
    market = Market(42)
    lows = dict(market.prices())
    highs = dict(lows)
    for _ in range(86_400):
        market.advance()
        for symbol, price in market.prices().items():
            lows[symbol] = min(lows[symbol], price)
            highs[symbol] = max(highs[symbol], price)
    assert Decimal(90_000) < lows["BTCUSDT"] < highs["BTCUSDT"] < Decimal(105_000)
    assert Decimal(3_000) < lows["ETHUSDT"] < highs["ETHUSDT"] < Decimal(3_800)
    # USDC barely moves: a few hundredths of a basis point either way.
    assert Decimal("0.9990") <= lows["USDCUSDT"] < highs["USDCUSDT"] <= Decimal("1.0011")
    assert Decimal(74) < market.usd_rub < Decimal(111)


def test_a_ticker_is_the_walk_from_its_start():
    market = advanced(Market(42), 100)
    ticker = market.ticker("ETHUSDT")
    assert ticker.symbol == "ETHUSDT"
    assert ticker.close == market.price("ETHUSDT")
    assert ticker.open == Decimal("3400.00")
    assert ticker.volume == SPECS["ETHUSDT"].volume
