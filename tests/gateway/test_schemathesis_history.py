"""The history routes against their own OpenAPI document, by schemathesis, as the courses'
(``test_schemathesis``): every check, schema-valid and schema-violating requests alike, with a
fixed seed, on a gateway app in process whose book holds every price of both exchangers.

Schema-valid queries may be refused for what OpenAPI cannot say (see CONFIG). The app has no
database: stored history answers 503 (documented), so what this holds is the
parameters' contract (every invalid query a 422, never a 500) and conversion at the current
course; answers from a database are held by ``test_history_live``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig

from common.wire import now_ms
from gateway import history_table
from gateway.app import create_app
from gateway.settings import GatewaySettings
from harness.postgres import scratch_database
from tests.gateway.ticks import binance_ticks, coingecko_ticks

pytestmark = pytest.mark.live

SEED = 20261124
MAX_EXAMPLES = 100
MIN_CASES = 300
ROUTES = {"/api/v1/courses/history", "/api/v1/courses/at", "/api/v1/convert"}


class ConnectionPerRequest:
    """What the routes use of a pool (``acquire``): a new connection each time, in the loop
    of the request, on the database the module's fixture made."""

    url: str | None = None

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        assert self.url is not None, "the database fixture sets the URL"
        connection = await asyncpg.connect(self.url)
        try:
            yield connection
        finally:
            await connection.close()

    async def close(self) -> None:
        """The replica closes its pool when its lifespan ends: nothing stays open here."""


DATABASE = ConnectionPerRequest()


async def _store_a_day(url: str) -> None:
    """A value per minute of the last day for every direction, up to now."""
    last = now_ms() // 1000 // 60 * 60
    rows = [
        (last - 60 * i, (last - 60 * i) * 1000, number, 1, False, False, f"{100 + i}.5", 0)
        for i in range(1440)
        for number in history_table.DIRECTION_IDS.values()
    ]
    connection = await asyncpg.connect(url)
    try:
        await history_table.insert_rows(connection, rows)
    finally:
        await connection.close()


@pytest.fixture(scope="module", autouse=True)
def _database(pg_admin_url: str) -> Iterator[None]:
    with scratch_database(pg_admin_url) as url:
        asyncio.run(_store_a_day(url))
        DATABASE.url = url
        try:
            yield
        finally:
            DATABASE.url = None


def _replica_app():
    """A replica's app on the module's database, every price in its book (for /convert)."""
    app = create_app(GatewaySettings())
    gateway = app.state.gateway
    gateway.pool = DATABASE
    received = time.monotonic()
    ticks = [*binance_ticks(now_ms()), *coingecko_ticks(now_ms())]
    for tick in ticks:
        gateway.rates.apply(tick, received)
    gateway.rates.reprice(received)
    return app


CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
        # Every check but one: a schema-valid query may still be refused for what OpenAPI
        # cannot say (from before to, at most 1,000 candles, no time in the future), and is
        # refused with a 422 saying so; the tests of gateway.history_query hold those rules.
        "checks": {"enabled": True, "positive_data_acceptance": {"enabled": False}},
        "phases": {
            **{phase: {"enabled": True} for phase in ("examples", "fuzzing")},
            "coverage": {"enabled": True, "generate-duplicate-query-parameters": True},
        },
    }
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _replica_app(), config=CONFIG).include(
    path_regex="^/api/v1/(courses/history|courses/at|convert)$"
)

CASES: dict[str, int] = {}


@schema.parametrize()
def test_the_history_routes_keep_their_contract(case):
    CASES[case.path] = CASES.get(case.path, 0) + 1
    case.call_and_validate()


def test_the_run_was_big_enough():
    """Runs after the schemathesis tests (pytest keeps a module's order)."""
    print(f"schemathesis cases: {CASES}")
    assert set(CASES) == ROUTES
    assert sum(CASES.values()) >= MIN_CASES
