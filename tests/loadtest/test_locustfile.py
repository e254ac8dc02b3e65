"""The load test's users: the API contract they check is the gateway's, their checks catch
wrong answers, and against the real stack they see none."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.recipes import DIRECTIONS, EXCHANGERS
from gateway.schema import Course, Courses
from harness.procs import ProcessGroup
from harness.stack import remove_private_cluster, start_demo
from loadtest import contract

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


@pytest.mark.live
def test_against_the_stack_every_answer_is_right(procs: ProcessGroup, tmp_path: Path):
    demo = start_demo(procs, tmp_path / "run", LOG_LEVEL="WARNING")
    try:
        prefix = tmp_path / "smoke"
        subprocess.run(
            [
                str(Path(sys.executable).parent / "locust"),
                "-f",
                str(Path(contract.__file__).parent / "locustfile.py"),
                "--headless",
                "--users",
                "20",
                "--spawn-rate",
                "20",
                "--run-time",
                "6s",
                "--host",
                demo.api,
                "--csv",
                str(prefix),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env={**os.environ, "LOADTEST_USER_RPS": "10"},
            check=False,
            capture_output=True,
            timeout=60,
        )
        with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as stats:
            rows = {row["Name"]: row for row in csv.DictReader(stats)}
    finally:
        demo.process.stop()
        remove_private_cluster(tmp_path / "run")
    total = rows["Aggregated"]
    print(json.dumps({k: total[k] for k in ("Request Count", "Failure Count", "Requests/s")}))
    assert int(total["Request Count"]) > 500
    assert int(total["Failure Count"]) == 0
    assert int(rows["invalid (422)"]["Request Count"]) > 0  # the misusers ran too
