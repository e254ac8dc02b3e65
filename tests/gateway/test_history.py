"""History without a database: what is recorded when, the queries' rules, conversion."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gateway.history_api import convert
from gateway.history_query import MAX_CANDLES, parse_at, parse_convert, parse_history, parse_time
from gateway.history_table import via_mask, via_names
from gateway.pricing import Course
from gateway.query import QueryError
from gateway.served import ServedRecorder

T = 1_764_000_000_000  # ms, a whole second


def course(value: str, exchanger: str = "binance", stale: bool = False, at: int = T) -> Course:
    return Course("BTC-USD", Decimal(value), exchanger, at, stale)


def test_the_first_change_of_a_second_is_recorded_at_once_the_rest_at_the_next_second():
    recorder = ServedRecorder()
    recorder.observe([course("100.0")])
    assert [row[0] for row in recorder.due(T + 100)] == [T // 1000]
    recorder.observe([course("101.0")])
    assert not recorder.due(T + 500)  # the same second: waits
    recorder.observe([course("102.0")])
    rows = recorder.due(T + 1_020)  # the next second: what is held then
    assert len(rows) == 1
    row = rows[0]
    assert (row[0], row[6]) == (T // 1000 + 1, "102.0")
    assert not recorder.due(T + 5_000)  # nothing changed since


def test_a_newer_time_alone_is_not_a_change_but_a_new_source_or_staleness_is():
    recorder = ServedRecorder()
    recorder.observe([course("100.0")])
    recorder.due(T)
    recorder.observe([course("100.0", at=T + 700)])
    assert not recorder.due(T + 1_000)
    recorder.observe([course("100.0", exchanger="coingecko")])
    assert recorder.due(T + 2_000)[0][3] == 2  # coingecko's id
    recorder.observe([course("100.0", exchanger="coingecko", stale=True)])
    assert recorder.due(T + 3_000)[0][4] is True
    disputed = Course("BTC-USD", Decimal("100.0"), "coingecko", T, True, disputed=True)
    recorder.observe([disputed])
    assert recorder.due(T + 4_000)[0][5] is True


def test_directions_without_a_course_record_nothing():
    recorder = ServedRecorder()
    recorder.observe([None, None])
    assert not recorder.due(T)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2025-11-24T16:00:00Z", T),
        ("2025-11-24t16:00:00.5z", T + 500),
        ("2025-11-24 19:00:00.123456789+03:00", T + 123),
    ],
)
def test_rfc3339_times(text, expected):
    assert parse_time("time", text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "2025-11-24", "2025-11-24T16:00:00", "2025-13-01T00:00:00Z", "1969-12-31T23:59:59Z",
     "2025-11-24T16:00:00+24:00", "0000-01-01T00:00:00Z", "now", "2025-11-24T16:00:00Z "],
)  # fmt: skip
def test_anything_else_is_refused_with_an_example(text):
    with pytest.raises(QueryError, match="time"):
        parse_time("time", text)


def test_a_history_range_is_aligned_to_its_interval_and_to_defaults_to_now():
    query = parse_history("direction=BTC-RUB&from=2025-11-24T16:07:30Z&interval=5m", T + 3_600_000)
    assert (query.width, query.from_s, query.to_s) == (300, T // 1000 + 300, T // 1000 + 3600)
    assert not query.to_given


@pytest.mark.parametrize(
    "query, message",
    [
        ("from=2025-11-24T16:00:00Z", "direction is required"),
        ("direction=BTC-EUR&from=2025-11-24T16:00:00Z", "valid values: BTC-USD, BTC-RUB"),
        ("direction=BTC-RUB", "from is required"),
        ("direction=BTC-RUB&from=2025-11-24T16:00:00Z&interval=2m", "valid values: 1m, 5m"),
        ("direction=BTC-RUB&direction=BTC-RUB&from=2025-11-24T16:00:00Z", "once"),
        ("direction=BTC-RUB&from=2025-11-24T16:00:00Z&to=2025-11-24T16:00:00Z", "before"),
        ("direction=BTC-RUB&from=2025-11-20T00:00:00Z", f"at most {MAX_CANDLES} candles"),
    ],
)
def test_history_queries_refused_say_why(query, message):
    with pytest.raises(QueryError, match=message):
        parse_history(query, T)


def test_a_thousand_candles_is_the_limit_exactly():
    base = "direction=BTC-RUB&from=2025-11-24T00:00:00Z&interval=1m&to="
    assert parse_history(base + "2025-11-24T16:40:00Z", T).to_s == T // 1000 + 2400
    with pytest.raises(QueryError, match="1001 of 1m"):
        parse_history(base + "2025-11-24T16:40:00.001Z", T)


def test_the_instant_asked_about_is_not_in_the_future():
    assert parse_at("direction=ETH-USD&time=2025-11-24T16:00:00Z", T).at_ms == T
    with pytest.raises(QueryError, match="future"):
        parse_at("direction=ETH-USD&time=2025-11-24T16:00:01Z", T)


def test_conversion_either_way_round_and_its_refusals():
    query = parse_convert("from=RUB&to=BTC&amount=1000", T)
    assert (query.direction, query.inverse, query.amount) == ("BTC-RUB", True, Decimal(1000))
    for bad, message in (
        ("from=BTC&to=ETH&amount=1", "no course between BTC and ETH"),
        ("from=XRP&to=RUB&amount=1", "valid values: BTC, ETH"),
        ("from=BTC&to=RUB&amount=0", "positive"),
        ("from=BTC&to=RUB&amount=1e3", "positive"),
        ("from=BTC&to=RUB&amount=-1", "positive"),
        ("from=BTC&to=RUB", "amount is required"),
    ):
        with pytest.raises(QueryError, match=message):
            parse_convert(bad, T)


def test_conversion_rounds_half_even_to_8_places_as_the_courses():
    assert convert(Decimal("0.25"), Decimal("8984519.3"), False) == Decimal("2246129.825")
    assert convert(Decimal("0.000000005"), Decimal("1"), False) == Decimal("0.0")
    assert convert(Decimal("0.000000015"), Decimal("1"), False) == Decimal("0.00000002")
    assert convert(Decimal("1000"), Decimal("3"), True) == Decimal("333.33333333")
    big = convert(Decimal("999999999999999999.5"), Decimal("99999999.12345678"), False)
    assert big == Decimal("99999999123456779950000000.43827161")  # exact: (1e18 - 0.5) * v


def test_via_is_stored_as_bits_of_exchanger_ids_and_read_back():
    assert via_mask(()) == 0 and not via_names(None) and not via_names(0)
    assert via_mask(("coingecko",)) == 2 and via_names(2) == ("coingecko",)
    assert via_names(via_mask(("coingecko", "binance"))) == ("binance", "coingecko")
