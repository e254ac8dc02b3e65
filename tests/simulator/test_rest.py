"""The REST endpoints and the control API of a simulator in the test's loop, through httpx."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import httpx
import pytest

from harness.ports import port_open
from harness.procs import until
from simulator.coingecko import coingecko_values
from simulator.market import Market
from tests.simulator.inprocess import Sim
from tests.simulator.samples import TICKER_PRICE, shape

REST_TARGETS = ("binance-rest", "coingecko")
PRICE_PATHS = {
    "binance-rest": '/api/v3/ticker/price?symbols=["BTCUSDT","ETHUSDT"]',
    "coingecko": "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd",
}


@pytest.fixture(name="client")
async def client_fixture() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def price_url(sim: Sim, target: str) -> str:
    return sim.url(target, PRICE_PATHS[target])


async def test_binance_ticker_price(sim: Sim, client):
    answer = await client.get(price_url(sim, "binance-rest"))
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json;charset=UTF-8"
    assert [item["symbol"] for item in answer.json()] == ["BTCUSDT", "ETHUSDT"]
    assert all(shape(item) == shape(TICKER_PRICE) for item in answer.json())


async def test_coingecko_simple_price_is_the_walk_at_the_snapshots_step(sim: Sim, client):
    await sim.steps(2)
    answer = await client.get(
        sim.url("coingecko", "/api/v3/simple/price"),
        params={
            "ids": "bitcoin,ethereum,tether,notacoin",
            "vs_currencies": "usd,rub",
            "include_last_updated_at": "true",
        },
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    body = json.loads(answer.text, parse_float=Decimal)
    snapshot = sim.state()["coingecko"]
    market = Market(42)
    for _ in range(snapshot["step"]):
        market.advance()
    expected = coingecko_values(market.prices(), market.usd_rub)
    assert list(body) == ["bitcoin", "ethereum", "tether"]
    for coin, values in body.items():
        assert values == {**expected[coin], "last_updated_at": snapshot["last_updated_at"]}


@pytest.mark.parametrize("sim_settings", [{"sim_coingecko_rate_limit": 2}])
async def test_coingecko_answers_429_past_its_rate_limit(sim: Sim, client):
    answers = [await client.get(price_url(sim, "coingecko")) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["status"]["error_code"] == 429
    assert 1 <= int(answers[2].headers["retry-after"]) <= 60
    assert sim.state()["coingecko"]["calls_last_minute"] == 2


# The control API ------------------------------------------------------------------------------


async def test_control_rejects_bad_input_listing_the_choices(sim: Sim, client):
    url = sim.url("control", "/_control/faults")
    target = await client.post(url, json={"target": "kraken", "fault": "stall"})
    fault = await client.post(url, json={"target": "coingecko", "fault": "shutdown"})
    field = await client.post(url, json={"target": "coingecko", "fault": "stall", "minutes": 1})
    missing = await client.post(url, json={"fault": "stall"})
    port = await client.delete(url, params={"port": "x"})
    for response in (target, fault, field, missing, port):
        assert response.status_code == 422
        assert response.json()["valid_targets"] == ["binance-ws", "binance-rest", "coingecko"]
        assert "shutdown" in response.json()["valid_faults"]["binance-ws"]
        assert "shutdown" not in response.json()["valid_faults"]["coingecko"]
    assert "valid targets: binance-ws, binance-rest, coingecko" in target.json()["error"]
    assert "unknown fault 'shutdown' for coingecko" in fault.json()["error"]
    assert "minutes" in field.json()["error"]
    assert (await client.post(url, content=b"stall please")).status_code == 400
    assert (await client.get(sim.url("control", "/_control/nothing"))).status_code == 404
    wrong = await client.put(url)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST, DELETE"
    assert sim.state()["faults"] == []


async def test_control_inject_list_and_clear(sim: Sim, client):
    url = sim.url("control", "/_control/faults")
    await client.post(url, json={"target": "coingecko", "fault": "429", "seconds": 30})
    port = sim.ws_ports[1]
    await client.post(url, json={"target": "binance-ws", "fault": "stall", "port": port})
    listed = (await client.get(url)).json()["faults"]
    assert {(f["target"], f["fault"], f["port"]) for f in listed} == {
        ("coingecko", "429", None),
        ("binance-ws", "stall", port),
    }
    cleared = await client.delete(url, params={"target": "coingecko"})
    assert [f["fault"] for f in cleared.json()["cleared"]] == ["429"]
    assert [f["target"] for f in cleared.json()["faults"]] == ["binance-ws"]
    answer = await client.post(url, json={"target": "binance-ws", "fault": "clear", "port": port})
    assert answer.json()["faults"] == []
    healthz = await client.get(sim.url("control", "/_control/healthz"))
    assert healthz.json() == {"status": "ok"}


async def test_state_reports_ports_prices_and_counters(sim: Sim, client):
    state = (await client.get(sim.url("control", "/_control/state"))).json()
    assert state["ports"] == {
        "control": sim.control,
        "binance-ws": sim.ws_ports,
        "binance-rest": sim.rest,
        "coingecko": sim.coingecko,
    }
    assert set(state["binance"]) == {"BTCUSDT", "ETHUSDT", "USDCUSDT"}
    assert set(state["coingecko"]["values"]) == {"bitcoin", "ethereum", "tether"}
    assert state["listening"]["binance-rest"] is True
    assert set(state) >= {"frames_sent", "malformed_sent", "pings_sent", "connections", "step"}


# REST faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("target", REST_TARGETS)
@pytest.mark.parametrize("fault", ["stall", "hang"])
async def test_stall_and_hang_never_answer(sim: Sim, client, target, fault):
    url = price_url(sim, target)
    assert (await client.get(url)).status_code == 200  # a kept-alive connection, then the fault
    await sim.simulator.inject(target, fault)
    kept = asyncio.create_task(client.get(url))
    async with httpx.AsyncClient() as fresh:
        new = asyncio.create_task(fresh.get(url))
        await until(lambda: sim.state()["held"][target] == 2, 10)
        await sim.steps(3)
        assert not kept.done() and not new.done()
        await sim.simulator.clear()
        # Released: the held requests' connections are reset.
        for request in (kept, new):
            with pytest.raises(httpx.TransportError):
                await request
    assert (await client.get(url)).status_code == 200


@pytest.mark.parametrize("target", REST_TARGETS)
async def test_drop_resets_connections(sim: Sim, client, target):
    url = price_url(sim, target)
    assert (await client.get(url)).status_code == 200
    await sim.simulator.inject(target, "drop")
    with pytest.raises(httpx.TransportError):
        await client.get(url)
    await sim.simulator.clear()
    assert (await client.get(url)).status_code == 200


@pytest.mark.parametrize("target", REST_TARGETS)
async def test_refuse_closes_the_port_until_cleared(sim: Sim, client, target):
    await sim.simulator.inject(target, "refuse")
    with pytest.raises(httpx.ConnectError):
        await client.get(price_url(sim, target))
    assert sim.state()["listening"][target] is False
    await sim.simulator.clear()
    port = sim.rest if target == "binance-rest" else sim.coingecko
    assert port_open(port)
    assert (await client.get(price_url(sim, target))).status_code == 200


@pytest.mark.parametrize("target", REST_TARGETS)
async def test_malformed_answers_200_with_bad_bodies(sim: Sim, client, target):
    await sim.simulator.inject(target, "malformed")
    responses = [await client.get(price_url(sim, target)) for _ in range(4)]
    assert [r.status_code for r in responses] == [200] * 4
    kinds = set()
    for body in (r.content for r in responses):
        try:
            decoded = json.loads(body)
        except json.JSONDecodeError:
            kinds.add("html" if body.startswith(b"<html>") else "truncated")
            continue
        kinds.add("not-an-object" if decoded == "OK" else "wrong-types")
    assert kinds == {"truncated", "wrong-types", "not-an-object", "html"}
    assert sim.state()["malformed_sent"][target] == 4


async def test_binance_429_fault(sim: Sim, client):
    url = price_url(sim, "binance-rest")
    await sim.simulator.inject("binance-rest", "429", seconds=5)
    timed = await client.get(url)
    await sim.simulator.inject("binance-rest", "429")
    untimed = await client.get(url)
    for response in (timed, untimed):
        assert response.status_code == 429 and response.json()["code"] == -1003
    assert timed.headers["retry-after"] == "5"
    assert untimed.headers["retry-after"] == "7"  # SIM_FAULT_RETRY_AFTER


async def test_coingecko_429_fault(sim: Sim, client):
    await sim.simulator.inject("coingecko", "429", seconds=3)
    response = await client.get(price_url(sim, "coingecko"))
    assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert response.json()["status"]["error_code"] == 429


@pytest.mark.parametrize("target", REST_TARGETS)
async def test_5xx_fault_and_its_expiry(sim: Sim, client, target):
    url = price_url(sim, target)
    await sim.simulator.inject(target, "5xx")
    assert (await client.get(url)).status_code == 503
    await sim.simulator.inject(target, "5xx", status=502)
    assert (await client.get(url)).status_code == 502
    # Nothing clears this one: it ends by itself.
    fault = await sim.simulator.inject(target, "5xx", seconds=0.2)
    assert fault.expires is not None
    await until(lambda: sim.state()["faults"] == [], 5)
    assert (await client.get(url)).status_code == 200


# The skew: prices off, connections untouched ---------------------------------------------------


@pytest.mark.parametrize("sim_settings", [{"sim_tick_interval": 600}])  # the walk stands still
async def test_a_skew_moves_binance_rest_prices_by_its_percent(sim: Sim, client):
    url = sim.url("control", "/_control/faults")
    answer = await client.post(
        url,
        json={"target": "binance-rest", "fault": "skew", "percent": 10, "instruments": ["ETHUSDT"]},
    )
    assert answer.json()["injected"]["percent"] == 10 and answer.json()["injected"]["instruments"]
    prices = sim.state()["binance"]
    served = {
        item["symbol"]: Decimal(item["price"])
        for item in (await client.get(sim.url("binance-rest", "/api/v3/ticker/price"))).json()
    }
    assert served["ETHUSDT"] == (Decimal(prices["ETHUSDT"]) * Decimal("1.1")).quantize(
        Decimal("1e-8")
    )
    assert served["BTCUSDT"] == Decimal(prices["BTCUSDT"])
    await client.delete(url)
    again = await client.get(sim.url("binance-rest", "/api/v3/ticker/price"))
    assert {i["symbol"]: i["price"] for i in again.json()} == prices


@pytest.mark.parametrize("sim_settings", [{"sim_tick_interval": 600}])
async def test_a_skew_moves_coingecko_values_by_its_percent(sim: Sim, client):
    url = sim.url("control", "/_control/faults")
    body = {"target": "coingecko", "fault": "skew", "percent": -20, "seconds": 30}
    assert (await client.post(url, json=body)).status_code == 200
    answer = await client.get(
        sim.url("coingecko", "/api/v3/simple/price"),
        params={"ids": "bitcoin,tether", "vs_currencies": "usd,rub"},
    )
    values = json.loads(answer.text, parse_float=Decimal)
    snapshot = sim.state()["coingecko"]["values"]
    for coin in ("bitcoin", "tether"):
        for vs in ("usd", "rub"):
            expected = (Decimal(snapshot[coin][vs]) * Decimal("0.8")).quantize(Decimal("1e-8"))
            assert values[coin][vs] == expected
