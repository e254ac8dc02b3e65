from __future__ import annotations

import json
from decimal import Decimal

import pytest

from simulator import coingecko_payloads as payloads
from simulator.snapshot import Snapshot
from tests.simulator.samples import SIMPLE_PRICE, shape

SNAPSHOT = Snapshot(
    values={
        "bitcoin": {"usd": Decimal("96990.30096990"), "rub": Decimal("8971602.83971603")},
        "ethereum": {"usd": Decimal("3399.66003400"), "rub": Decimal("314468.55314450")},
        "tether": {"usd": Decimal("0.99990001"), "rub": Decimal("92.49075092")},
    },
    last_updated_at=1_711_356_300,
    step=7,
)


def test_simple_price_matches_the_documented_shape():
    answer = payloads.simple_price(SNAPSHOT, ["bitcoin"], ["usd"], True)
    assert shape(json.loads(payloads.encode(answer))) == shape(SIMPLE_PRICE)


def test_values_go_out_as_exact_json_numbers():
    answer = payloads.simple_price(
        SNAPSHOT, ["bitcoin", "ethereum", "tether"], ["usd", "rub"], False
    )
    assert payloads.encode(answer) == (
        b'{"bitcoin":{"usd":96990.30096990,"rub":8971602.83971603},'
        b'"ethereum":{"usd":3399.66003400,"rub":314468.55314450},'
        b'"tether":{"usd":0.99990001,"rub":92.49075092}}'
    )


def test_unknown_ids_and_currencies_are_left_out():
    answer = payloads.simple_price(SNAPSHOT, ["dogecoin", "tether"], ["eur", "rub"], True)
    assert answer == {"tether": {"rub": Decimal("92.49075092"), "last_updated_at": 1_711_356_300}}
    assert not payloads.simple_price(SNAPSHOT, ["dogecoin"], ["usd"], True)


def test_precision_rounds_values():
    answer = payloads.simple_price(SNAPSHOT, ["bitcoin"], ["usd"], False, precision=2)
    assert payloads.encode(answer) == b'{"bitcoin":{"usd":96990.30}}'


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), ("full", None), ("0", 0), ("18", 18)]
)
def test_parse_precision(value, expected):
    assert payloads.parse_precision(value) == expected


@pytest.mark.parametrize("value", ["19", "-1", "two"])
def test_parse_precision_refuses(value):
    with pytest.raises(ValueError):
        payloads.parse_precision(value)


def test_split_list_reads_like_coingecko():
    assert payloads.split_list(" Bitcoin, tether,,bitcoin ") == ["bitcoin", "tether"]
    assert not payloads.split_list(None)


def test_rate_limited_body():
    body = payloads.rate_limited()
    assert body["status"]["error_code"] == 429
    assert body["status"]["error_message"].startswith("You've exceeded the Rate Limit.")
