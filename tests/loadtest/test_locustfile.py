"""The load test's users: the API contract they check is the gateway's, their checks catch
wrong answers, and against the real stack they see none."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gateway.recipes import DIRECTIONS, EXCHANGERS
from gateway.schema import Course, Courses
from harness.procs import ProcessGroup
from harness.stack import remove_private_cluster, start_demo
from loadtest import contract
from loadtest.event_stream import Event
from tests.loadtest import headless

TAG = '"abcDEF012_-"'


class Answer:
    """Just enough of a locust response for the checks."""

    def __init__(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self._body = body
        self.headers = {"etag": TAG, "cache-control": "public, max-age=1", **(headers or {})}

    def json(self) -> dict[str, Any]:
        return self._body


def course(direction: str, value: object = 1.5, exchanger: str = "binance") -> dict[str, Any]:
    return {
        "direction": direction,
        "value": value,
        "exchanger": exchanger,
        "updated_at": "2026-11-24T10:00:00.000Z",
        "stale": False,
        "legs": [
            {"source": exchanger, "instrument": "X", "price": 1.5, "at": "2026-11-24T10:00:00.000Z"}
        ],
        "disputed": False,
    }


GOOD = {"exchanger": "binance", "courses": [course(d) for d in DIRECTIONS]}


def test_the_contract_is_the_gateways():
    assert contract.DIRECTIONS == DIRECTIONS
    assert contract.EXCHANGERS == EXCHANGERS
    documented = Course.model_json_schema()
    assert set(contract.COURSE_FIELDS) == set(documented["properties"])
    optional = set(documented["properties"]) - set(documented["required"])
    assert set(contract.OPTIONAL_FIELDS) == optional


@pytest.mark.parametrize(
    "body,directions",
    [
        (GOOD, DIRECTIONS),
        (
            {"exchanger": "binance", "courses": [{**course("BTC-RUB"), "via": ["coingecko"]}]},
            ("BTC-RUB",),
        ),
        ({"exchanger": None, "courses": []}, ()),
    ],
)
def test_what_the_contract_accepts_the_gateways_schema_does(body, directions):
    assert contract.problems(Answer(body), directions) == ""
    Courses.model_validate(body)


def test_a_right_answer_passes():
    assert contract.problems(Answer(GOOD), DIRECTIONS) == ""


@pytest.mark.parametrize(
    "body,headers,expected",
    [
        (GOOD, {"etag": "W/" + TAG}, "bad ETag"),
        (GOOD, {"cache-control": "no-store"}, "max-age"),
        ({**GOOD, "exchanger": "kraken"}, None, "top-level exchanger"),
        ({**GOOD, "courses": GOOD["courses"][::-1]}, None, "directions"),
        ({**GOOD, "courses": [course(d, 2) for d in DIRECTIONS]}, None, "bad value"),
        ({**GOOD, "courses": [course(d, -1.0) for d in DIRECTIONS]}, None, "bad value"),
        ({**GOOD, "courses": [{**course(d), "rate": 1.0} for d in DIRECTIONS]}, None, "unknown"),
        ({**GOOD, "courses": [{**course(d), "via": []} for d in DIRECTIONS]}, None, "bad via"),
        ({**GOOD, "courses": [{**course(d), "legs": []} for d in DIRECTIONS]}, None, "legs"),
        ({**GOOD, "courses": [{**course(d), "disputed": 0} for d in DIRECTIONS]}, None, "disputed"),
        ({"exchanger": None, "courses": GOOD["courses"]}, None, "top-level exchanger"),
    ],
)
def test_wrong_answers_are_caught(body, headers, expected):
    assert expected in contract.problems(Answer(body, headers), DIRECTIONS)


def test_an_exchanger_filter_is_checked():
    assert "bad exchanger" in contract.problems(Answer(GOOD), DIRECTIONS, "coingecko")


def event(body: object = None, tag: str | None = TAG, kind: str = "courses") -> Event:
    """An event carrying ``body`` (GOOD by default; a string as it is)."""
    body = GOOD if body is None else body
    data = body if isinstance(body, str) else json.dumps(body)
    return Event(kind, data, tag, 1795996936123.4)


def test_a_right_event_passes():
    assert contract.event_problems(event(), '"older"', DIRECTIONS) == ""
    assert contract.event_problems(event(), None, DIRECTIONS) == ""


@pytest.mark.parametrize(
    "wrong,expected",
    [
        (event(kind="message"), "event type"),
        (event(tag=None), "bad id"),
        (event(tag="W/" + TAG), "bad id"),
        (event(body="{not json"), "not JSON"),
        (event(body=[1, 2]), "not a JSON object"),
        (event({**GOOD, "courses": GOOD["courses"][1:]}), "directions"),
        (event({**GOOD, "courses": [course(d, 0.0) for d in DIRECTIONS]}), "bad value"),
        (Event("courses", json.dumps(GOOD), TAG, None), "changed"),
    ],
)
def test_wrong_events_are_caught(wrong, expected):
    assert expected in contract.event_problems(wrong, None, DIRECTIONS)


def test_an_event_repeating_the_id_before_it_is_a_duplicate():
    assert "duplicate" in contract.event_problems(event(), TAG, DIRECTIONS)


def test_an_events_exchanger_filter_is_checked():
    assert "bad exchanger" in contract.event_problems(event(), None, DIRECTIONS, "coingecko")


@pytest.mark.live
def test_against_the_stack_every_answer_is_right(procs: ProcessGroup, tmp_path: Path):
    demo = start_demo(procs, tmp_path / "run", LOG_LEVEL="WARNING")
    try:
        run = headless.start(procs, demo.api, tmp_path / "smoke", 6, 20, LOADTEST_USER_RPS="10")
        run.finish()
        rows = run.rows()
    finally:
        demo.process.stop()
        remove_private_cluster(tmp_path / "run")
    total = rows["Aggregated"]
    print(json.dumps({k: total[k] for k in ("Request Count", "Failure Count", "Requests/s")}))
    assert int(total["Request Count"]) > 500
    assert int(total["Failure Count"]) == 0
    assert int(rows["invalid (422)"]["Request Count"]) > 0  # the misusers ran too
