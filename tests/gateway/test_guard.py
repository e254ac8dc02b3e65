"""The guard: pure verdicts, then through pricing and the rates' logs."""

from __future__ import annotations

import logging
from decimal import Decimal

from gateway.book import RateBook
from gateway.guard import UNCHECKED, Guard, Policy, deviation, disputed, judge
from gateway.pricing import Budgets, price_direction, price_filters
from gateway.rates import FILTERS, Rates
from gateway.recipes import DIRECTIONS
from tests.gateway.ticks import BINANCE_PRICES, T0, binance_ticks, coingecko_ticks, tick

BUDGETS = Budgets(live=4, slow=150, fiat=900)
FLAG = Guard(Decimal("0.02"), Policy.FLAG)
PREFER = Guard(Decimal("0.02"), Policy.PREFER_AGGREGATE)
USDT_DIRECTIONS = {"USDTTRC-USD", "USDTTRC-RUB", "USDTERC-USD", "USDTERC-RUB"}


def test_deviation_is_signed_relative_to_the_other_value():
    assert deviation(Decimal("110"), Decimal("100")) == Decimal("0.1")
    assert deviation(Decimal("100"), Decimal("110")) == Decimal("-0.090909")
    assert deviation(Decimal("100"), Decimal("100")) == Decimal("0.0")
    assert str(deviation(Decimal("100.0001"), Decimal("100"))) == "0.000001"  # not 1E-6


def test_disputed_is_symmetric_and_strictly_beyond_the_threshold():
    limit = Decimal("0.02")
    assert not disputed(Decimal("102"), Decimal("100"), limit)  # exactly 2 %: agreed
    assert disputed(Decimal("102.01"), Decimal("100"), limit)
    assert disputed(Decimal("100"), Decimal("102.01"), limit)
    assert disputed(Decimal("0"), Decimal("100"), limit)


def test_one_fresh_source_is_not_checked():
    assert judge(("binance", Decimal("1")), None, PREFER) == UNCHECKED


def test_flag_keeps_the_first_source_and_marks_it():
    verdict = judge(("binance", Decimal("110")), ("coingecko", Decimal("100")), FLAG)
    assert (verdict.switch, verdict.deviation, verdict.disputed) == (False, Decimal("0.1"), True)


def test_prefer_aggregate_switches_a_disputed_binance_value_to_coingecko():
    verdict = judge(("binance", Decimal("100")), ("coingecko", Decimal("110")), PREFER)
    # Served from CoinGecko now: its deviation from Binance's value.
    assert (verdict.switch, verdict.deviation, verdict.disputed) == (True, Decimal("0.1"), True)
    agreed = judge(("binance", Decimal("101")), ("coingecko", Decimal("100")), PREFER)
    assert not agreed.switch and not agreed.disputed


def test_prefer_aggregate_never_overrides_an_exchanger_filter_or_coingecko():
    filtered = judge(("binance", Decimal("100")), ("coingecko", Decimal("110")), PREFER, True)
    assert not filtered.switch and filtered.disputed
    served = judge(("coingecko", Decimal("100")), ("binance", Decimal("110")), PREFER)
    assert not served.switch and served.disputed


def book_with(binance: dict[str, str], now: float = 0.0) -> RateBook:
    book = RateBook()
    for message in coingecko_ticks(T0 - 30_000):
        book.apply_tick(message, now)
    for instrument, price in {**BINANCE_PRICES, **binance}.items():
        book.apply_tick(tick(instrument, price), now)
    return book


def skewed(percent: str) -> dict[str, str]:
    """Every Binance price moved by ``percent``, as the simulator's skew of both transports."""
    factor = 1 + Decimal(percent) / 100
    return {name: str(Decimal(price) * factor) for name, price in BINANCE_PRICES.items()}


def test_a_skew_of_every_binance_book_disputes_only_the_usdt_directions():
    pricings = price_filters(book_with(skewed("10")), 1.0, BUDGETS, FILTERS, FLAG)
    courses = {c.direction: c for c in pricings[None].courses if c is not None}
    assert {d for d, c in courses.items() if c.disputed} == USDT_DIRECTIONS
    for direction in USDT_DIRECTIONS:
        # USDT served as 1 / USDCUSDT: the skew shows as 1 / 1.1 against CoinGecko's.
        assert courses[direction].exchanger == "binance"
        predicted = Decimal(1) / Decimal("1.1") - 1
        assert abs(courses[direction].deviation - predicted) < Decimal("0.0005")
    plain = price_filters(book_with({}), 1.0, BUDGETS, FILTERS, FLAG)[None].courses
    for direction, unskewed in zip(DIRECTIONS, plain):
        if direction not in USDT_DIRECTIONS:
            # BTCUSDT / USDCUSDT: both moved, so the skew cancels out.
            assert abs(courses[direction].deviation - unskewed.deviation) <= Decimal("1e-6")
    # The filters get the verdict too, against the other source's fresh value.
    assert all(c.disputed for c in pricings["binance"].courses if c.direction in USDT_DIRECTIONS)
    assert all(c.disputed for c in pricings["coingecko"].courses if c.direction in USDT_DIRECTIONS)


def test_prefer_aggregate_serves_the_disputed_ones_from_coingecko_and_back():
    book = book_with(skewed("10"))
    served = {
        c.direction: c for c in price_filters(book, 1.0, BUDGETS, FILTERS, PREFER)[None].courses
    }
    assert {d for d, c in served.items() if c.exchanger == "coingecko"} == USDT_DIRECTIONS
    assert all(served[d].disputed and served[d].deviation > 0 for d in USDT_DIRECTIONS)
    # Asked for by name, Binance's values are still served, marked.
    named = price_filters(book, 1.0, BUDGETS, FILTERS, PREFER)["binance"].courses
    assert all(c.exchanger == "binance" for c in named)
    assert {c.direction for c in named if c.disputed} == USDT_DIRECTIONS
    for message in binance_ticks(T0 + 1_000):
        book.apply_tick(message, 1.5)
    again = price_filters(book, 2.0, BUDGETS, FILTERS, PREFER)[None].courses
    assert all(c.exchanger == "binance" and not c.disputed for c in again)


def test_a_skew_below_the_threshold_disputes_nothing():
    pricings = price_filters(book_with(skewed("1.5")), 1.0, BUDGETS, FILTERS, FLAG)
    assert not any(c.disputed for p in pricings.values() for c in p.courses)


def test_no_deviation_while_the_other_source_is_stale_and_the_course_expires_with_it():
    book = book_with(skewed("10"))
    course, until = price_direction("USDTTRC-USD", book, 1.0, BUDGETS, "coingecko", FLAG)
    assert course.disputed and until == 4.0  # re-judged when Binance's value goes stale
    course, _ = price_direction("USDTTRC-USD", book, 5.0, BUDGETS, None, FLAG)
    assert course.exchanger == "coingecko"
    assert course.deviation is None and not course.disputed


def test_an_exchanger_filter_keeps_the_verdict_but_not_the_moving_deviation():
    book = book_with(skewed("10"))
    pricings = price_filters(book, 1.0, BUDGETS, FILTERS, FLAG)
    for name in ("binance", "coingecko"):
        assert all(c.deviation is None for c in pricings[name].courses)
        disputed_ones = {c.direction for c in pricings[name].courses if c.disputed}
        assert disputed_ones == USDT_DIRECTIONS
    before = price_filters(book, 1.0, BUDGETS, FILTERS, FLAG)["coingecko"]
    moved = Decimal(skewed("10")["BTCUSDT"]) * Decimal("1.0001")  # Binance moves a little
    book.apply_tick(tick("BTCUSDT", str(moved), T0 + 1_000), 1.5)
    assert price_filters(book, 1.5, BUDGETS, FILTERS, FLAG)["coingecko"] == before


def test_rates_warn_once_when_disputed_and_inform_once_when_cleared(caplog):
    caplog.set_level(logging.INFO, logger="gateway.rates")
    rates = Rates(BUDGETS, FLAG)
    for message in coingecko_ticks(T0 - 30_000):
        rates.apply(message, 0.0)
    for second, percent in enumerate(["0", "10", "10.5", "11", "0"], start=1):
        for instrument, price in skewed(percent).items():
            rates.apply(tick(instrument, price, T0 + second * 1000), float(second))
        rates.reprice(float(second))
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    cleared = [r.getMessage() for r in caplog.records if "no longer disputed" in r.getMessage()]
    assert sorted(m.split()[0] for m in warnings) == sorted(USDT_DIRECTIONS)
    assert "USDTTRC-USD disputed: served by binance, -9.09% off the other source" in warnings[0]
    assert sorted(m.split()[0] for m in cleared) == sorted(USDT_DIRECTIONS)
    assert all(r.levelname == "INFO" for r in caplog.records if "no longer" in r.getMessage())
    assert rates.disputes == dict.fromkeys(sorted(USDT_DIRECTIONS), 1)
