"""Simulators started with settings of their own: request budgets, the CoinGecko cache, and
the process's start and stop."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import time
from decimal import Decimal

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK

from simulator.market import Market
from simulator.snapshot import coingecko_values
from harness.ports import port_open
from tests.simulator.conftest import until

pytestmark = pytest.mark.live


def avoid_minute_boundary() -> None:
    """Binance's weight window is the wall-clock minute: don't straddle two."""
    into = time.time() % 60
    if into > 57:
        time.sleep(60.2 - into)


def test_budgets_and_cache(sim_factory):
    sim = sim_factory(
        SIM_BINANCE_WEIGHT_LIMIT="10",
        SIM_COINGECKO_RATE_LIMIT="3",
        SIM_COINGECKO_CACHE_SECONDS="0.5",
    )
    avoid_minute_boundary()
    with httpx.Client(base_url=sim.rest_url, timeout=2) as binance:
        answers = [binance.get("/api/v3/ticker/price") for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["x-mbx-used-weight-1m"] for a in answers] == ["4", "8", "8"]
    refused = answers[2]
    assert refused.json()["code"] == -1003
    assert "current limit is 10 request weight per 1 MINUTE" in refused.json()["msg"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert abs(int(refused.headers["retry-after"]) - (60 - time.time() % 60)) <= 1.5

    with httpx.Client(base_url=sim.coingecko_url, timeout=2) as coingecko:
        calls = [coingecko.get("/api/v3/ping") for _ in range(4)]
    assert [c.status_code for c in calls] == [200, 200, 200, 429]
    assert calls[3].json()["status"]["error_code"] == 429
    assert 58 <= int(calls[3].headers["retry-after"]) <= 60

    # The snapshot is retaken every 0.5 s from the walk at that step.
    seen = {}
    deadline = time.monotonic() + 1.8
    while time.monotonic() < deadline:
        snapshot = sim.state()["coingecko"]
        seen[snapshot["step"]] = snapshot
        time.sleep(0.05)
    assert 3 <= len(seen) <= 5
    steps = sorted(seen)
    assert all(4 <= b - a <= 6 for a, b in zip(steps, steps[1:]))  # 0.5 s of 0.1 s ticks
    market = Market(42)
    for step in steps:
        market.advance_to(step)
        expected = coingecko_values(market.prices(), market.usd_rub)
        actual = {
            coin: {vs: Decimal(value) for vs, value in values.items()}
            for coin, values in seen[step]["values"].items()
        }
        assert actual == expected


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_stop_signal_exits_cleanly_and_promptly(sim_factory, signum):
    sim = sim_factory()
    stream = "/stream?streams=btcusdt@miniTicker"
    async with httpx.AsyncClient(base_url=sim.rest_url) as client:
        assert (await client.get("/api/v3/ping")).status_code == 200  # a kept-alive connection
        async with connect(sim.ws(stream)) as ws:
            await asyncio.wait_for(ws.recv(), 2)
            stopping = time.monotonic()
            sim.process.signal(signum)
            with pytest.raises(ConnectionClosedOK):
                while True:
                    await asyncio.wait_for(ws.recv(), 2)
            assert ws.close_code == 1001
            await until(lambda: not sim.process.alive(), 3)
    assert time.monotonic() - stopping < 2
    assert sim.process.popen.returncode == 0
    assert not any(port_open(port) for port in (sim.control, *sim.ws_ports, sim.rest))
    output = sim.process.output()
    assert "stopping" in output and "Traceback" not in output


def test_invalid_settings_exit_2_naming_the_variable(procs):
    process = procs.spawn("simulator", ["simulator"], env={"SIM_BINANCE_WS_PORTS": "9443,nope"})
    assert process.popen.wait(10) == 2
    assert "SIM_BINANCE_WS_PORTS" in process.output()


def test_a_taken_port_exits_1_with_a_critical(procs):
    with socket.create_server(("127.0.0.1", 0)) as server:
        taken = server.getsockname()[1]
        process = procs.spawn(
            "simulator",
            ["simulator"],
            env={
                "SIM_CONTROL_PORT": str(taken),
                "SIM_BINANCE_WS_PORTS": "0,0",
                "SIM_BINANCE_REST_PORT": "0",
                "SIM_COINGECKO_PORT": "0",
            },
        )
        assert process.popen.wait(10) == 1
    assert "CRITICAL" in process.output() and "cannot listen" in process.output()


def test_info_log_names_the_ports(sim_factory):
    sim = sim_factory()
    first_line = sim.process.output().splitlines()[0]
    assert "INFO" in first_line
    for port in (sim.control, *sim.ws_ports, sim.rest, sim.coingecko):
        assert f":{port}" in first_line


def test_faults_are_logged_as_warnings(sim_factory):
    sim = sim_factory()
    sim.inject("coingecko", "5xx", seconds=0.2)
    time.sleep(0.4)
    sim.inject("binance-ws", "drop")
    sim.clear()
    lines = [line for line in sim.process.output().splitlines() if "WARNING" in line]
    assert any("fault injected: coingecko 5xx for" in line for line in lines)
    assert any("fault expired: coingecko 5xx" in line for line in lines)
    assert any("fault cleared: binance-ws drop until cleared" in line for line in lines)
    assert json.dumps(sim.state()["faults"]) == "[]"
