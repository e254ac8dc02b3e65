from __future__ import annotations

import json

from gateway.pricing import Budgets
from gateway.query import ALL, Shape, shape_of
from gateway.rates import Rates
from gateway.render import Answers
from tests.gateway.ticks import T0, binance_ticks, coingecko_ticks, tick


def loaded(now: float = 0.0) -> Rates:
    rates = Rates(Budgets(live=4, slow=150, fiat=900))
    for message in binance_ticks() + coingecko_ticks(T0 - 30_000):
        rates.apply(message, now)
    rates.reprice(now)
    return rates


def answers_of(rates: Rates) -> Answers:
    """Answers that follow ``rates``, as the app wires them."""
    answers = Answers(cache_max_age=1)
    rates.on_change(answers.update)
    return answers


def test_nothing_known_is_a_503_with_retry_after():
    rendered = answers_of(Rates(Budgets())).answer(ALL)
    assert rendered.status == 503
    assert (b"retry-after", b"1") in rendered.headers
    assert b"no rate known yet" in rendered.body


def test_the_body_is_the_assignments_shape_with_provenance():
    body = json.loads(answers_of(loaded()).answer(ALL).body)
    assert body["exchanger"] == "binance"
    assert [c["direction"] for c in body["courses"]][:2] == ["BTC-USD", "BTC-RUB"]
    first = body["courses"][0]
    assert first == {
        "direction": "BTC-USD",
        "value": 96990.80091991,
        "exchanger": "binance",
        "updated_at": "2025-11-24T16:00:00.000Z",
        "stale": False,
        "legs": [
            {
                "source": "binance",
                "instrument": "BTCUSDT",
                "price": 97000.50,
                "at": "2025-11-24T16:00:00.000Z",
            },
            {
                "source": "binance",
                "instrument": "USDCUSDT",
                "price": 1.0001,
                "at": "2025-11-24T16:00:00.000Z",
            },
        ],
        "deviation": 0.000008,  # 96990.80091991 / 96990 - 1
        "disputed": False,
    }
    assert body["courses"][1]["via"] == ["coingecko"]


def test_values_are_json_numbers_written_exactly():
    raw = answers_of(loaded()).answer(ALL).body
    assert b'"value":96990.80091991,' in raw
    assert b'"value":0.99990001,' in raw
    assert b'"deviation":0.000008,' in raw


def test_same_rates_same_bytes_same_tag_on_two_replicas():
    first, second = loaded(), loaded(now=100.0)
    a, b = answers_of(first).answer(ALL), answers_of(second).answer(ALL)
    assert a.body == b.body and a.etag == b.etag
    assert (b"etag", a.etag.encode()) in a.headers
    assert (b"cache-control", b"public, max-age=1") in a.headers


def test_rendered_once_per_change_and_rebuilt_on_change():
    rates = loaded()
    answers = answers_of(rates)
    answer = answers.answer(ALL)
    assert answers.answer(ALL) is answer
    rates.apply(tick("BTCUSDT", "97001", T0 + 1000), 0.5)
    assert rates.reprice(0.5)
    changed = answers.answer(ALL)
    assert changed.etag != answer.etag


def test_an_unchanged_book_keeps_the_pricings_and_their_answers():
    rates = loaded()
    answers = answers_of(rates)
    pricings, answer = rates.pricings, answers.answer(ALL)
    rates.apply(binance_ticks()[0], 0.2)  # a duplicate
    assert not rates.reprice(0.2)
    assert rates.pricings is pricings
    assert answers.answer(ALL) is answer


def test_top_level_exchanger_is_the_highest_priority_present():
    rates = loaded()
    answers = answers_of(rates)
    rates.reprice(10.0)  # binance legs stale: everything from coingecko
    assert json.loads(answers.answer(ALL).body)["exchanger"] == "coingecko"
    coingecko_only = answers.answer(Shape(("BTC-USD",), "coingecko"))
    assert json.loads(coingecko_only.body)["exchanger"] == "coingecko"


def test_a_filter_with_nothing_known_is_a_503():
    rates = Rates(Budgets())
    answers = answers_of(rates)
    rates.apply(tick("bitcoin.usd", "1", T0, "coingecko"), 0)
    rates.reprice(0)
    assert answers.answer(shape_of(b"direction=BTC-USD")).status == 200
    assert answers.answer(shape_of(b"direction=ETH-USD")).status == 503
    assert answers.answer(shape_of(b"exchanger=binance")).status == 503
