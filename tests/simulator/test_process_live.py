"""``python -m simulator`` as a process: its start line, its stop, its settings, its logs."""

from __future__ import annotations

import asyncio
import signal
import socket

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK

from harness.ports import port_open
from harness.procs import ProcessGroup
from harness.stack import start_sim

pytestmark = pytest.mark.live


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_a_stop_signal_closes_every_connection_and_exits_0(procs: ProcessGroup, signum):
    sim = await asyncio.to_thread(start_sim, procs, SIM_TICK_INTERVAL="0.1")
    first_line = sim.process.output().splitlines()[0]
    assert "INFO" in first_line  # the harness found every port there
    async with httpx.AsyncClient(base_url=sim.rest_url) as client:
        assert (await client.get("/api/v3/ticker/price")).status_code == 200  # kept alive
        async with connect(sim.ws("/stream?streams=btcusdt@miniTicker")) as ws:
            await asyncio.wait_for(ws.recv(), 10)
            sim.process.signal(signum)
            with pytest.raises(ConnectionClosedOK):
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code == 1001
    assert await asyncio.to_thread(sim.process.popen.wait, 15) == 0
    assert not any(port_open(port) for port in (sim.control, *sim.ws_ports, sim.rest))
    output = sim.process.output()
    assert "stopping" in output and "Traceback" not in output


def test_invalid_settings_exit_2_naming_the_variable(procs: ProcessGroup):
    process = procs.spawn("simulator", ["simulator"], env={"SIM_BINANCE_WS_PORTS": "9443,nope"})
    assert process.popen.wait(15) == 2
    assert "SIM_BINANCE_WS_PORTS" in process.output()


def test_a_taken_port_exits_1_with_a_critical(procs: ProcessGroup):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        process = procs.spawn(
            "simulator",
            ["simulator"],
            env={
                "SIM_CONTROL_PORT": str(taken.getsockname()[1]),
                "SIM_BINANCE_WS_PORTS": "0,0",
                "SIM_BINANCE_REST_PORT": "0",
                "SIM_COINGECKO_PORT": "0",
            },
        )
        assert process.popen.wait(15) == 1
    assert "CRITICAL" in process.output() and "cannot listen" in process.output()


def test_faults_are_logged_as_warnings(procs: ProcessGroup):
    sim = start_sim(procs)
    sim.inject("coingecko", "5xx", seconds=0.2)
    sim.process.wait_for_line("fault expired: coingecko 5xx", 10)
    sim.inject("binance-ws", "drop")
    sim.clear()
    lines = [line for line in sim.process.output().splitlines() if "WARNING" in line]
    assert any("fault injected: coingecko 5xx for" in line for line in lines)
    assert any("fault expired: coingecko 5xx" in line for line in lines)
    assert any("fault cleared: binance-ws drop until cleared" in line for line in lines)
    assert sim.state()["faults"] == []
