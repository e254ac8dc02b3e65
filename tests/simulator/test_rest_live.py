"""The REST endpoints and the control API of a real simulator, through httpx."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from urllib.parse import quote

import httpx
import pytest

from harness.ports import port_open
from harness.procs import wait_for
from tests.simulator.samples import ERROR, TICKER_PRICE, shape

pytestmark = pytest.mark.live

WEIGHT = "x-mbx-used-weight-1m"
PRICE_PATHS = {
    "binance-rest": "/api/v3/ticker/price",
    "coingecko": "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd",
}


def base(sim, target: str) -> str:
    return sim.rest_url if target == "binance-rest" else sim.coingecko_url


def test_binance_ticker_price_formats(sim):
    with httpx.Client(base_url=sim.rest_url, timeout=2) as client:
        one = client.get("/api/v3/ticker/price", params={"symbol": "BTCUSDT"})
        some = client.get(
            "/api/v3/ticker/price",
            params={"symbols": json.dumps(["BTCUSDT", "ETHUSDT"], separators=(",", ":"))},
        )
        every = client.get("/api/v3/ticker/price")
    assert one.status_code == 200
    assert one.headers["content-type"] == "application/json;charset=UTF-8"
    assert shape(one.json()) == shape(TICKER_PRICE)
    assert one.json()["symbol"] == "BTCUSDT"
    assert [item["symbol"] for item in some.json()] == ["BTCUSDT", "ETHUSDT"]
    assert [item["symbol"] for item in every.json()] == ["BTCUSDT", "ETHUSDT", "USDCUSDT"]
    assert all(shape(item) == shape(TICKER_PRICE) for item in every.json())
    # Weights: 2 for symbol, 4 for symbols or none; the header counts the minute's total.
    used = [int(r.headers[WEIGHT]) for r in (one, some, every)]
    assert used[1] - used[0] == 4 and used[2] - used[1] == 4


def test_binance_errors(sim):
    with httpx.Client(base_url=sim.rest_url, timeout=2) as client:
        unknown = client.get("/api/v3/ticker/price", params={"symbol": "DOGEUSDT"})
        spaced = client.get("/api/v3/ticker/price?symbols=" + quote('["BTCUSDT", "ETHUSDT"]'))
        ping = client.get("/api/v3/ping")
        server_time = client.get("/api/v3/time")
    assert (unknown.status_code, unknown.json()) == (400, ERROR)
    assert spaced.status_code == 400 and spaced.json()["code"] == -1100
    assert (ping.status_code, ping.json()) == (200, {})
    assert list(server_time.json()) == ["serverTime"]
    assert WEIGHT in unknown.headers


def test_coingecko_simple_price_is_the_state_snapshot(sim):
    url = (
        f"{sim.coingecko_url}/api/v3/simple/price?ids=bitcoin,ethereum,tether,notacoin"
        "&vs_currencies=usd,rub&include_last_updated_at=true"
    )
    response = httpx.get(url, headers={"x-cg-demo-api-key": "CG-test"}, timeout=2)
    state = sim.state()
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    body = json.loads(response.text, parse_float=Decimal)
    assert list(body) == ["bitcoin", "ethereum", "tether"]
    snapshot = state["coingecko"]
    for coin, values in body.items():
        assert list(values) == ["usd", "rub", "last_updated_at"]
        assert values["last_updated_at"] == snapshot["last_updated_at"]
        for vs in ("usd", "rub"):
            assert values[vs] == Decimal(snapshot["values"][coin][vs])
    assert state["limits"]["coingecko"]["calls_with_api_key"] >= 1
    plain = httpx.get(f"{sim.coingecko_url}/api/v3/simple/price?ids=tether&vs_currencies=usd")
    assert list(plain.json()["tether"]) == ["usd"]
    assert isinstance(plain.json()["tether"]["usd"], float)


def test_coingecko_ping(sim):
    response = httpx.get(f"{sim.coingecko_url}/api/v3/ping", timeout=2)
    assert response.json() == {"gecko_says": "(V3) To the Moon!"}


# The control API ------------------------------------------------------------------------------


def test_control_rejects_bad_input_listing_the_choices(sim):
    url = f"{sim.control_url}/_control/faults"
    target = httpx.post(url, json={"target": "kraken", "fault": "stall"})
    fault = httpx.post(url, json={"target": "coingecko", "fault": "shutdown"})
    field = httpx.post(url, json={"target": "coingecko", "fault": "stall", "minutes": 1})
    missing = httpx.post(url, json={"fault": "stall"})
    not_json = httpx.post(url, content=b"stall please")
    for response in (target, fault, field, missing):
        assert response.status_code == 422
        assert response.json()["valid_targets"] == ["binance-ws", "binance-rest", "coingecko"]
        assert "shutdown" in response.json()["valid_faults"]["binance-ws"]
        assert "shutdown" not in response.json()["valid_faults"]["coingecko"]
    assert "valid targets: binance-ws, binance-rest, coingecko" in target.json()["error"]
    assert "unknown fault 'shutdown' for coingecko" in fault.json()["error"]
    assert "minutes" in field.json()["error"]
    assert not_json.status_code == 400
    assert httpx.get(f"{sim.control_url}/_control/nothing").status_code == 404
    wrong = httpx.put(url)
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET, POST, DELETE"
    assert sim.state()["faults"] == []


def test_control_inject_list_and_clear(sim):
    sim.inject("coingecko", "429", seconds=30)
    sim.inject("binance-ws", "stall", port=sim.ws_ports[1])
    listed = httpx.get(f"{sim.control_url}/_control/faults").json()["faults"]
    assert {(f["target"], f["fault"], f["port"]) for f in listed} == {
        ("coingecko", "429", None),
        ("binance-ws", "stall", sim.ws_ports[1]),
    }
    cleared = httpx.delete(f"{sim.control_url}/_control/faults", params={"target": "coingecko"})
    assert [f["fault"] for f in cleared.json()["cleared"]] == ["429"]
    assert [f["target"] for f in cleared.json()["faults"]] == ["binance-ws"]
    answer = sim.inject("binance-ws", "clear", port=sim.ws_ports[1])
    assert answer["faults"] == []
    assert httpx.get(f"{sim.control_url}/_control/healthz").json() == {"status": "ok"}


def test_state_reports_everything(sim):
    state = sim.state()
    assert set(state) >= {
        "step",
        "binance",
        "usd_rub",
        "coingecko",
        "faults",
        "connections",
        "listening",
        "frames_sent",
        "malformed_sent",
        "limits",
    }
    assert set(state["binance"]) == {"BTCUSDT", "ETHUSDT", "USDCUSDT"}
    assert set(state["coingecko"]["values"]) == {"bitcoin", "ethereum", "tether"}
    assert state["listening"]["binance-rest"] is True


# REST faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["binance-rest", "coingecko"])
@pytest.mark.parametrize("fault", ["stall", "hang"])
def test_stall_and_hang_never_answer(sim, target, fault):
    url = base(sim, target) + PRICE_PATHS[target]
    with httpx.Client(timeout=2) as client:
        assert client.get(url).status_code == 200  # a kept-alive connection, then the fault
        sim.inject(target, fault)
        with pytest.raises(httpx.ReadTimeout):
            client.get(url, timeout=0.4)
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(url, timeout=0.4)
        sim.clear()
        assert client.get(url).status_code == 200


async def reset_on_request(port: int, path: str) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    try:
        await asyncio.wait_for(reader.read(), 1)
    finally:
        writer.close()


@pytest.mark.parametrize("target", ["binance-rest", "coingecko"])
async def test_drop_resets_connections(sim, target):
    port = sim.rest if target == "binance-rest" else sim.coingecko
    async with httpx.AsyncClient(base_url=base(sim, target), timeout=2) as client:
        assert (await client.get(PRICE_PATHS[target])).status_code == 200
        await asyncio.to_thread(sim.inject, target, "drop")
        with pytest.raises(httpx.TransportError):
            await client.get(PRICE_PATHS[target])
    with pytest.raises(ConnectionResetError):
        await reset_on_request(port, PRICE_PATHS[target])
    await asyncio.to_thread(sim.clear)
    async with httpx.AsyncClient(base_url=base(sim, target), timeout=2) as client:
        assert (await client.get(PRICE_PATHS[target])).status_code == 200


@pytest.mark.parametrize("target", ["binance-rest", "coingecko"])
def test_refuse_closes_the_port_until_cleared(sim, target):
    port = sim.rest if target == "binance-rest" else sim.coingecko
    url = base(sim, target) + PRICE_PATHS[target]
    sim.inject(target, "refuse")
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=1)
    assert sim.state()["listening"][target] is False
    sim.clear()
    wait_for(lambda: port_open(port), 2)
    assert httpx.get(url, timeout=1).status_code == 200


@pytest.mark.parametrize("target", ["binance-rest", "coingecko"])
def test_malformed_answers_200_with_bad_bodies(sim, target):
    url = base(sim, target) + PRICE_PATHS[target]
    sim.inject(target, "malformed")
    responses = [httpx.get(url, timeout=1) for _ in range(4)]
    assert [r.status_code for r in responses] == [200] * 4
    bodies = [r.content for r in responses]
    kinds = set()
    for body in bodies:
        try:
            decoded = json.loads(body)
        except json.JSONDecodeError:
            kinds.add("html" if body.startswith(b"<html>") else "truncated")
            continue
        kinds.add("not-an-object" if decoded == "OK" else "wrong-types")
    assert kinds == {"truncated", "wrong-types", "not-an-object", "html"}


def test_binance_429_fault(sim):
    sim.inject("binance-rest", "429", seconds=5)
    timed = httpx.get(f"{sim.rest_url}/api/v3/ping")
    sim.inject("binance-rest", "429")
    untimed = httpx.get(f"{sim.rest_url}/api/v3/ping")
    for response in (timed, untimed):
        assert response.status_code == 429
        assert response.json()["code"] == -1003
        assert WEIGHT in response.headers
    assert timed.headers["retry-after"] == "5"
    assert untimed.headers["retry-after"] == "7"  # SIM_FAULT_RETRY_AFTER


def test_coingecko_429_fault(sim):
    sim.inject("coingecko", "429", seconds=3)
    response = httpx.get(f"{sim.coingecko_url}/api/v3/ping")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json()["status"]["error_code"] == 429


@pytest.mark.parametrize("target", ["binance-rest", "coingecko"])
def test_5xx_fault_and_its_expiry(sim, target):
    url = base(sim, target) + PRICE_PATHS[target]
    sim.inject(target, "5xx")
    assert httpx.get(url).status_code == 503
    sim.inject(target, "5xx", status=502, seconds=0.3)
    assert httpx.get(url).status_code == 502
    wait_for(lambda: httpx.get(url).status_code == 200, 1, interval=0.05)
