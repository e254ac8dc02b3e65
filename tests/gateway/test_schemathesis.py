"""The courses routes against their own OpenAPI document, by schemathesis: every check,
schema-valid and schema-violating requests alike, with a fixed seed, on a real gateway app
(in-process, over ASGI) whose book holds every price of both exchangers.

Every request the document allows gets courses (or 304); every request it forbids gets a
422; every answer has the documented status, content type, headers and body.
"""

from __future__ import annotations

import time

import schemathesis
from schemathesis.config import SchemathesisConfig

from common.wire import now_ms
from gateway.app import create_app
from gateway.settings import GatewaySettings
from tests.gateway.ticks import binance_ticks, coingecko_ticks

SEED = 20261124
#: Cases generated per route and phase; the run makes at least 500 in all (counted below).
MAX_EXAMPLES = 200
MIN_CASES = 500


def _app_with_every_price():
    app = create_app(GatewaySettings())
    rates = app.state.gateway.rates
    now = time.monotonic()
    for tick in (*binance_ticks(now_ms()), *coingecko_ticks(now_ms())):
        rates.apply(tick, now)
    rates.reprice(now)  # the answers stay those of this moment: nothing reprices them
    return app


CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        "checks": {"enabled": True},
        "phases": {
            "examples": {"enabled": True},
            "coverage": {"enabled": True, "generate-duplicate-query-parameters": True},
            "fuzzing": {"enabled": True},
        },
    }
)
schema = schemathesis.openapi.from_asgi(
    "/openapi.json", _app_with_every_price(), config=CONFIG
).include(path_regex="^(/api/v1)?/courses$")

CASES: dict[str, int] = {}


@schema.parametrize()
def test_the_courses_routes_keep_their_contract(case):
    CASES[case.path] = CASES.get(case.path, 0) + 1
    case.call_and_validate()


def test_the_run_was_big_enough():
    """Runs after the schemathesis tests (pytest keeps a module's order)."""
    print(f"schemathesis cases: {CASES}")
    assert set(CASES) == {"/api/v1/courses", "/courses"}
    assert sum(CASES.values()) >= MIN_CASES
