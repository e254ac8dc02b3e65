"""The REST poller against answers made up by ``httpx.MockTransport``: every outcome of one
request, and what it does to the next."""

from __future__ import annotations

import json

import httpx
import pytest

from common.backoff import Backoff
from feeder.parsers import parse_binance_ticker_price
from feeder.polling import Poller, PollTarget, retry_after_seconds
from harness.procs import until
from tests.feeder.conftest import Published

URL = "http://exchange.test/api/v3/ticker/price"
PRICES = (
    {"symbol": "BTCUSDT", "price": "97000.01000000"},
    {"symbol": "ETHUSDT", "price": "3400.50000000"},
    {"symbol": "USDCUSDT", "price": "1.00010000"},
)
INTERVAL = 0.5


@pytest.fixture(name="transport")
def transport_fixture() -> str:
    return "binance-rest"


def answer(status: int = 200, body: object = PRICES, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers=headers)


class Exchange:
    """Answers each request with the next of ``answers``; records the requests."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        outcome = self.answers.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def poller(published: Published) -> Poller:
    target = PollTarget(
        URL, {"symbols": '["BTCUSDT","ETHUSDT","USDCUSDT"]'}, parse_binance_ticker_price
    )
    backoff = Backoff(base=1.0, cap=8.0, rand=lambda: 1.0)  # delays 1, 2, 4, 8: no jitter
    return Poller(target, INTERVAL, 3.0, backoff, published.publisher, published.health)


async def poll(published: Published, exchange: Exchange, polls: int = 1) -> list[float]:
    """The delay each poll asked for before the next."""
    feed = poller(published)
    async with httpx.AsyncClient(transport=httpx.MockTransport(exchange)) as client:
        return [await feed.poll_once(client) for _ in range(polls)]


async def until_ticks(published: Published, count: int) -> None:
    await until(lambda: len(published.ticks()) >= count, 5)


async def test_an_answer_is_published_tick_by_tick(published: Published):
    exchange = Exchange(answer())
    assert await poll(published, exchange) == [INTERVAL]
    await until_ticks(published, 3)
    ticks = published.ticks()
    assert [(t.instrument, str(t.price)) for t in ticks] == [
        ("BTCUSDT", "97000.01000000"),
        ("ETHUSDT", "3400.50000000"),
        ("USDCUSDT", "1.00010000"),
    ]
    assert {t.transport for t in ticks} == {"binance-rest"}
    request = exchange.requests[0]
    assert request.url.params["symbols"] == '["BTCUSDT","ETHUSDT","USDCUSDT"]'
    health = published.health
    assert health.connected and health.messages == 1 and health.endpoint == ""


@pytest.mark.parametrize("status", [429, 418])
async def test_slow_down_answers_are_honoured_through_retry_after(published: Published, status):
    limited = answer(status, {"code": -1003}, **{"Retry-After": "7"})
    exchange = Exchange(answer(), limited, answer())
    assert await poll(published, exchange, 3) == [INTERVAL, 7.0, INTERVAL]
    health = published.health
    assert health.rate_limited == 1
    assert health.reconnect_reasons["recovered"] == 1 and health.connected


async def test_without_retry_after_the_backoff_decides(published: Published):
    exchange = Exchange(answer(429, {}), answer(429, {}))
    assert await poll(published, exchange, 2) == [1.0, 2.0]


@pytest.mark.parametrize(
    "failure",
    [
        answer(503, b"<html>busy</html>"),
        httpx.ReadTimeout("read timed out"),
        httpx.ConnectError("connection refused"),
        httpx.RemoteProtocolError("server disconnected"),
    ],
    ids=["503", "timeout", "refused", "dropped"],
)
async def test_failures_back_off_and_a_success_resets_the_backoff(published, failure):
    exchange = Exchange(answer(), failure, failure, failure, answer(), failure)
    delays = await poll(published, exchange, 6)
    assert delays == [INTERVAL, 1.0, 2.0, 4.0, INTERVAL, 1.0]
    health = published.health
    assert not health.connected
    assert health.reconnect_reasons["recovered"] == 1 and health.messages == 2


@pytest.mark.parametrize(
    "body",
    [
        b'[{"symbol": "BTCUSDT"',
        b'"OK"',
        b"<html></html>",
        json.dumps([{"symbol": "DOGEUSDT", "price": "1"}]).encode(),
    ],
    ids=["truncated", "not-a-list", "html", "none-of-ours"],
)
async def test_a_malformed_answer_is_counted_dropped_and_polled_again_as_usual(published, body):
    exchange = Exchange(answer(200, body), answer())
    assert await poll(published, exchange, 2) == [INTERVAL, INTERVAL]
    assert published.health.malformed >= 1
    await until_ticks(published, 3)
    assert {t.instrument for t in published.ticks()} == {"BTCUSDT", "ETHUSDT", "USDCUSDT"}


@pytest.mark.parametrize(
    ("value", "seconds"), [("7", 7.0), ("0.5", 0.5), ("-3", 0.0), ("soon", 2.0), (None, 2.0)]
)
def test_retry_after_is_read_in_seconds(value, seconds):
    headers = httpx.Headers({} if value is None else {"Retry-After": value})
    assert retry_after_seconds(headers, 2.0) == seconds
