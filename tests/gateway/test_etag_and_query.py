from __future__ import annotations

import pytest

from gateway.etag import etag_of, if_none_match_hits
from gateway.query import ALL, QueryError, Shape, parse_query, shape_of
from gateway.recipes import BASES, DIRECTIONS, QUOTES

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
    assert parse_query("direction=ETH-RUB,BTC-USD") == Shape(("BTC-USD", "ETH-RUB"))
    assert parse_query("direction=ETH-RUB&direction=BTC-USD") == Shape(("BTC-USD", "ETH-RUB"))
    assert parse_query("direction=ETH-RUB%2CBTC-USD") == Shape(("BTC-USD", "ETH-RUB"))


def test_base_quote_and_exchanger_narrow_together():
    assert parse_query("base=USDTTRC&quote=RUB") == Shape(("USDTTRC-RUB",))
    assert parse_query("base=BTC,ETH&quote=USD&exchanger=coingeko") == Shape(
        ("BTC-USD", "ETH-USD"), "coingecko"
    )
    assert parse_query("exchanger=binance").exchanger == "binance"


def test_filters_that_exclude_each_other_ask_for_nothing():
    """Not an error: the answer is an empty list (and "not known yet" stays a 503)."""
    assert parse_query("direction=BTC-USD&base=BTC&quote=RUB") == Shape(())
    assert parse_query("direction=BTC-USD&base=ETH&exchanger=binance") == Shape((), "binance")


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
        # exactly as the OpenAPI document spells them: no other case, no blanks, no spaces
        "direction=btc-usd",
        "quote=rub",
        "exchanger=Binance",
        "direction=",
        "direction",
        "direction=&quote=",
        "direction=BTC-USD,",
        "direction=BTC-USD,,ETH-RUB",
        "base=%20BTC",
        "base=BTC+",
        # at most as many times, and values each time, as there are valid values
        "quote=USD&quote=RUB&quote=USD",
        "quote=USD,RUB,USD",
        "&".join(["direction=BTC-USD"] * 9),
        "exchanger=binance&exchanger=binance",
        "exchanger=binance&exchanger=coingecko",
        "exchanger=binance,coingecko",
        "direction=" + "BTC-USD," * 400,
        "base=%ff",
    ],
)
def test_what_the_schema_does_not_allow_is_refused(query):
    assert isinstance(shape_of(query.encode()), QueryError)


def test_the_longest_query_the_schema_allows_is_accepted():
    """Every list parameter as often as allowed, each time every value, commas encoded."""
    lists = {"direction": DIRECTIONS, "base": BASES, "quote": QUOTES}
    query = "&".join(
        f"{name}={'%2C'.join(values)}" for name, values in lists.items() for _ in values
    )
    assert isinstance(shape_of(f"{query}&exchanger=coingeko".encode()), Shape)


def test_garbage_bytes_never_raise():
    for raw in (b"\xff\xfe=\x00", b"direction=%E2%82%AC", b"&&&==", b"direction"):
        result = shape_of(raw)
        assert isinstance(result, (Shape, QueryError))
