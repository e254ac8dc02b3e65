from __future__ import annotations

import json

import pytest

from simulator.malformed import BODY_KINDS, FRAME_KINDS, bad_body, bad_frame, flip_types

GOOD = (
    b'{"stream":"btcusdt@miniTicker","data":{"e":"24hrMiniTicker","E":5,"s":"BTCUSDT","c":"1.50"}}'
)


def test_flip_types_swaps_numbers_and_decimal_strings():
    assert flip_types({"a": ["1.5", 2, "BTC", True, None]}) == {"a": [1.5, "2", "BTC", True, None]}


def test_frames_rotate_through_every_kind():
    kinds = [bad_frame(n, GOOD, 9)[0] for n in range(8)]
    assert kinds == [*FRAME_KINDS, *FRAME_KINDS]


def test_each_bad_frame_is_bad_in_its_own_way():
    truncated = bad_frame(0, GOOD, 9)[1]
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated)
    wrong = json.loads(bad_frame(1, GOOD, 9)[1])
    assert wrong["data"]["c"] == 1.5 and wrong["data"]["E"] == "5"
    assert json.loads(bad_frame(2, GOOD, 9)[1]) == {
        "stream": "!simulatorMystery",
        "data": {"e": "simulatorMystery", "E": 9, "x": 1},
    }
    assert json.loads(bad_frame(3, GOOD, 9)[1]) == [1, 2, 3]


def test_bodies_rotate_and_keep_200_worthy_content_types():
    kinds = [bad_body(n, b'[{"symbol":"BTCUSDT","price":"1.00"}]') for n in range(4)]
    assert [kind for kind, _, _ in kinds] == list(BODY_KINDS)
    assert json.loads(kinds[1][1]) == [{"symbol": "BTCUSDT", "price": 1.0}]
    assert kinds[3][2] == "text/html"
