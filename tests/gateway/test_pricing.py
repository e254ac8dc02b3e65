from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.book import RateBook
from gateway.pricing import Budgets, LegPrice, price_all, price_direction
from gateway.recipes import DIRECTIONS, RECIPES, Role
from tests.gateway.ticks import T0, binance_ticks, coingecko_ticks, status, tick

BUDGETS = Budgets(live=4, slow=150, fiat=900)


def full_book(now: float = 0.0) -> RateBook:
    book = RateBook()
    for message in binance_ticks() + coingecko_ticks(T0 - 30_000):
        book.apply_tick(message, now)
    return book


def test_the_table_covers_the_eight_directions_in_the_assignments_order():
    # BTC-to-[RUB|USD], ETH-to-..., USDTTRC-to-..., USDTERC-to-..., USD first as in its example.
    bases, quotes = ("BTC", "ETH", "USDTTRC", "USDTERC"), ("USD", "RUB")
    assert DIRECTIONS == tuple(f"{base}-{quote}" for base in bases for quote in quotes)
    for recipes in RECIPES.values():
        assert [r.exchanger for r in recipes] == ["binance", "coingecko"]


def test_cross_rates_are_exact_to_eight_decimal_places():
    book = full_book()
    values = {d: price_direction(d, book, 1.0, BUDGETS)[0].value for d in DIRECTIONS}
    # 97000.50 / 1.0001 = 96990.80091990800919..., half-even to 8 places
    assert values["BTC-USD"] == Decimal("96990.80091991")
    # 1 / 1.0001 = 0.99990000999900009999...
    assert values["USDTTRC-USD"] == Decimal("0.99990001")
    assert values["USDTERC-USD"] == values["USDTTRC-USD"]
    # 97000.50 / 1.0001 * (8972000 / 96990) = 8972074.088601...
    exact = Decimal("97000.50") / Decimal("1.0001") * Decimal("8972000") / Decimal("96990")
    assert values["BTC-RUB"] == exact.quantize(Decimal("1e-8"))
    assert values["ETH-USD"] == Decimal("3399.760024")  # trailing zeros dropped


def test_binance_first_and_cross_rates_name_their_second_leg():
    course, _ = price_direction("ETH-RUB", full_book(), 1.0, BUDGETS)
    assert course.exchanger == "binance"
    assert course.via == ("coingecko",)
    assert not course.stale
    plain, _ = price_direction("ETH-USD", full_book(), 1.0, BUDGETS)
    assert not plain.via


def test_updated_at_is_the_newest_legs_time_and_each_leg_keeps_its_own():
    book = full_book()
    book.apply_tick(tick("USDCUSDT", "1.0001", T0 - 2_000), now=0.0)  # older: not taken
    book.apply_tick(tick("BTCUSDT", "97000.50", T0 + 1_500), now=0.0)
    assert price_direction("BTC-USD", book, 1.0, BUDGETS)[0].updated_at == T0 + 1_500
    course, _ = price_direction("BTC-RUB", book, 1.0, BUDGETS)
    assert course.updated_at == T0 + 1_500  # not CoinGecko's USD-RUB leg, 30 s older
    assert course.legs == (
        LegPrice("binance", "BTCUSDT", Decimal("97000.50"), T0 + 1_500),
        LegPrice("binance", "USDCUSDT", Decimal("1.0001"), T0),
        LegPrice("coingecko", "bitcoin.rub", Decimal("8972000"), T0 - 30_000),
        LegPrice("coingecko", "bitcoin.usd", Decimal("96990"), T0 - 30_000),
    )


def test_a_live_leg_goes_stale_after_its_budget_and_coingecko_takes_over():
    book = full_book(now=0.0)
    course, until = price_direction("BTC-USD", book, 3.9, BUDGETS)
    assert course.exchanger == "binance" and until == 4.0
    course, _ = price_direction("BTC-USD", book, 4.0, BUDGETS)
    assert course.exchanger == "coingecko"
    assert course.value == Decimal("96990")
    assert not course.stale


def test_heartbeats_keep_an_unchanging_price_fresh():
    book = full_book(now=0.0)
    for second in range(1, 10):
        book.apply_tick(tick("BTCUSDT", "97000.50", T0 + second * 1000), now=second)
        book.apply_status(status("binance-ws", True, 0), now=second)
    course, _ = price_direction("USDTTRC-USD", book, 9.5, BUDGETS)
    assert course.exchanger == "binance" and not course.stale


def test_everything_down_serves_the_newest_value_marked_stale():
    book = full_book(now=0.0)
    course, until = price_direction("BTC-USD", book, 1000.0, BUDGETS)
    assert course.stale
    assert course.exchanger == "binance"  # its data is newer than CoinGecko's
    assert until == float("inf")


def test_the_fiat_leg_has_its_own_longer_budget():
    book = full_book(now=0.0)
    for second in range(1, 200, 1):
        for message in binance_ticks(T0 + second * 1000):
            book.apply_tick(message, now=second)
    course, _ = price_direction("BTC-RUB", book, 199.0, BUDGETS)
    assert course.exchanger == "binance" and not course.stale
    assert BUDGETS.of(Role.FIAT) > BUDGETS.of(Role.SLOW) > BUDGETS.of(Role.LIVE)


def test_back_to_binance_when_it_returns():
    book = full_book(now=0.0)
    assert price_direction("ETH-USD", book, 10.0, BUDGETS)[0].exchanger == "coingecko"
    for message in binance_ticks(T0 + 10_000):
        book.apply_tick(message, now=10.0)
    assert price_direction("ETH-USD", book, 10.5, BUDGETS)[0].exchanger == "binance"


def test_an_exchanger_filter_uses_only_that_exchangers_recipes():
    book = full_book(now=0.0)
    course, _ = price_direction("BTC-USD", book, 1.0, BUDGETS, exchanger="coingecko")
    assert course.exchanger == "coingecko"
    course, _ = price_direction("BTC-USD", book, 100.0, BUDGETS, exchanger="binance")
    assert course.exchanger == "binance" and course.stale


def test_unknown_legs_mean_no_course():
    book = RateBook()
    book.apply_tick(tick("BTCUSDT", "1"), now=0)
    assert price_direction("BTC-USD", book, 0.5, BUDGETS) == (None, float("inf"))


def test_price_all_reports_when_the_first_fresh_course_expires():
    book = full_book(now=2.0)
    pricing = price_all(book, 3.0, BUDGETS)
    assert pricing.valid_until == pytest.approx(6.0)
    assert [c.direction for c in pricing.courses] == list(DIRECTIONS)


def test_whole_values_still_read_as_fractional_numbers():
    book = RateBook()
    book.apply_tick(tick("USDCUSDT", "1.00000000"), now=0)
    course, _ = price_direction("USDTTRC-USD", book, 0.5, BUDGETS)
    assert str(course.value) == "1.0"
