from __future__ import annotations

import pytest

from gateway.etag import etag_of, if_none_match_hits
from gateway.query import ALL, QueryError, Shape, parse_query, shape_of

TAG = etag_of(b'{"exchanger":"binance","courses":[]}')


def test_the_tag_depends_only_on_the_bytes():
    assert TAG == etag_of(b'{"exchanger":"binance","courses":[]}')
    assert TAG != etag_of(b'{"exchanger":"coingecko","courses":[]}')
    assert TAG.startswith('"') and TAG.endswith('"') and not TAG.startswith("W/")


@pytest.mark.parametrize(
    "header",
    [
        TAG,
        f"W/{TAG}",
        "*",
        f'"other", {TAG}',
        f'"other",W/{TAG}',
        f'  "a,b" , {TAG}  ',
        '"x", *',
    ],
)
def test_matching_headers(header):
    assert if_none_match_hits(header, TAG)


@pytest.mark.parametrize(
    "header",
    ["", '"other"', 'W/"other"', TAG.strip('"'), f'{TAG[:-2]}"', f'"x" {TAG}', f"w/{TAG}", ","],
)
def test_headers_that_do_not_match(header):
    assert not if_none_match_hits(header, TAG)


def test_no_parameters_ask_for_everything():
    assert shape_of(b"") is ALL
    assert parse_query("") == ALL


def test_directions_repeatable_or_comma_separated_and_in_the_fixed_order():
    assert parse_query("direction=ETH-RUB,btc-usd") == Shape(("BTC-USD", "ETH-RUB"))
    assert parse_query("direction=ETH-RUB&direction=BTC-USD") == Shape(("BTC-USD", "ETH-RUB"))


def test_base_quote_and_exchanger_narrow_together():
    assert parse_query("base=USDTTRC&quote=rub") == Shape(("USDTTRC-RUB",))
    assert parse_query("base=BTC,ETH&quote=USD&exchanger=coingeko") == Shape(
        ("BTC-USD", "ETH-USD"), "coingecko"
    )
    assert parse_query("exchanger=Binance").exchanger == "binance"


def test_unknown_parameters_are_ignored():
    assert parse_query("_=1732441200&utm=x") == ALL


@pytest.mark.parametrize(
    "query,named",
    [
        ("direction=BTC-EUR", "BTC-USD, BTC-RUB"),
        ("base=DOGE", "BTC, ETH, USDTTRC, USDTERC"),
        ("quote=EUR", "USD, RUB"),
        ("exchanger=kraken", "binance, coingecko, coingeko"),
    ],
)
def test_invalid_values_list_the_valid_ones(query, named):
    with pytest.raises(QueryError) as error:
        parse_query(query)
    assert named in str(error.value)


@pytest.mark.parametrize(
    "query",
    [
        "direction=BTC-USD&base=ETH",
        "exchanger=binance&exchanger=coingecko",
        "direction=" + "BTC-USD," * 400,
        "base=%ff",
    ],
)
def test_contradictions_and_abuse_are_refused(query):
    assert isinstance(shape_of(query.encode()), QueryError)


def test_garbage_bytes_never_raise():
    for raw in (b"\xff\xfe=\x00", b"direction=%E2%82%AC", b"&&&==", b"direction"):
        result = shape_of(raw)
        assert isinstance(result, (Shape, QueryError))
