"""Binance's stream servers, through real websocket clients: the wire, the timers, the faults.

Nothing here depends on how fast the machine is: frames are counted against what the simulator
says it sent, silences are checked over market steps the simulator reports it took, and timers
are checked never to fire early, not to fire on time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.frames import Opcode

from common.wire import now_ms
from harness.procs import until
from simulator.market import Market
from tests.simulator.inprocess import STREAMS, Sim
from tests.simulator.rawws import EOF, RESET, Ended, HandshakeFailed, RawClient
from tests.simulator.samples import MINI_TICKER, SERVER_SHUTDOWN_COMBINED, shape

DECIMAL = re.compile(r"^\d+\.\d{8}$")


def close_code(received) -> int:
    return int.from_bytes(bytes(received.frame.data)[:2], "big")


async def test_combined_stream_payloads_match_the_documentation(sim: Sim):
    async with connect(sim.ws()) as ws:
        messages = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(6)]
    for message in messages:
        assert list(message) == ["stream", "data"]
        data = message["data"]
        assert shape(data) == shape(MINI_TICKER)
        assert message["stream"] == f"{data['s'].lower()}@miniTicker"
        assert all(DECIMAL.match(data[key]) for key in "cohlvq")
        assert 0 <= now_ms() - data["E"] < 60_000  # the wall clock, in ms
    assert {m["stream"] for m in messages} == set(STREAMS)


async def test_each_step_brings_one_frame_per_stream_in_order_with_one_event_time(sim: Sim):
    client = await RawClient.connect(sim.ws())
    try:
        texts = await client.texts(33, timeout=10)
    finally:
        await client.close()
    messages = [json.loads(text) for text in texts]
    first = [m["stream"] for m in messages].index(STREAMS[0])
    steps = [messages[n : n + 3] for n in range(first, first + 30, 3)]
    for step in steps:
        assert [m["stream"] for m in step] == list(STREAMS)
        assert len({m["data"]["E"] for m in step}) == 1
    times = [step[0]["data"]["E"] for step in steps]
    assert times == sorted(times) and len(set(times)) == len(times)


async def test_prices_are_the_walk_of_the_configured_seed(sim: Sim):
    await sim.steps(3)
    state = sim.state()
    market = Market(42)
    for _ in range(state["step"]):
        market.advance()
    assert state["binance"] == {symbol: f"{p:.8f}" for symbol, p in market.prices().items()}
    assert state["usd_rub"] == str(market.usd_rub)


async def test_streams_without_data_are_accepted_and_silent(sim: Sim):
    client = await RawClient.connect(sim.ws("/stream?streams=dogeusdt@miniTicker/btcusdt@depth"))
    try:
        await sim.steps(3)
        assert client.frames_of(Opcode.TEXT) == []
    finally:
        await client.close()


@pytest.mark.parametrize("path", ["/ws/btcusdt@miniTicker", "/ws", "/api/v3/stream"])
async def test_other_paths_are_refused(sim: Sim, path):
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sim.ws(path)):
            pass
    assert refused.value.response.status_code == 404


async def test_state_counts_connections_and_frames(sim: Sim):
    before = sim.state()
    async with connect(sim.ws()), connect(sim.ws(index=1)) as second:
        for _ in range(6):
            await asyncio.wait_for(second.recv(), 5)
        during = sim.state()
    assert during["connections"]["binance-ws"] == before["connections"]["binance-ws"] + 2
    assert during["frames_sent"]["binance-ws"] >= before["frames_sent"]["binance-ws"] + 6


# Timers ---------------------------------------------------------------------------------------
# When the simulator did something is read from its own log records (its clock, not the time a
# frame took to reach the client): a timer may fire late on a busy machine, never early.


def logged(caplog: pytest.LogCaptureFixture, fragment: str) -> list[float]:
    """When the stream servers logged a line containing ``fragment``."""
    return [
        record.created
        for record in caplog.records
        if record.name == "simulator.streams" and fragment in record.getMessage()
    ]


@pytest.mark.parametrize("sim_settings", [{"sim_ping_interval": 0.2}])
async def test_pings_keep_coming_never_faster_than_the_interval(sim: Sim, caplog):
    caplog.set_level(logging.DEBUG, logger="simulator.streams")
    client = await RawClient.connect(sim.ws())
    try:
        for _ in range(4):
            await client.next(10, (Opcode.PING,))
    finally:
        await client.close()
    sent = logged(caplog, "> ping")
    assert len(sent) >= 4 and sim.state()["pings_sent"] >= 4
    assert all(b - a >= 0.2 * 0.99 for a, b in zip(sent, sent[1:]))


@pytest.mark.parametrize("sim_settings", [{"sim_ping_interval": 0.1, "sim_pong_timeout": 0.5}])
async def test_no_pong_within_the_timeout_disconnects_and_pongs_keep_it_open(sim: Sim, caplog):
    caplog.set_level(logging.DEBUG, logger="simulator.streams")
    silent = await RawClient.connect(sim.ws(), answer_pings=False)
    answering = await RawClient.connect(sim.ws(index=1))
    try:
        close = await silent.next(10, (Opcode.CLOSE,))
        assert close_code(close) == 1008 and b"Pong timeout" in bytes(close.frame.data)
        assert answering.ended is None and answering.frames_of(Opcode.CLOSE) == []
    finally:
        await silent.close()
        await answering.close()
    (timed_out,) = logged(caplog, "no pong within")
    assert timed_out - logged(caplog, "> ping")[0] >= 0.5 * 0.99


@pytest.mark.parametrize("sim_settings", [{"sim_connection_lifetime": 0.6}])
async def test_the_lifetime_cap_closes_the_connection(sim: Sim, caplog):
    caplog.set_level(logging.INFO, logger="simulator.streams")
    client = await RawClient.connect(sim.ws())
    try:
        close = await client.next(10, (Opcode.CLOSE,))
        assert await client.wait_ended(5) == EOF
    finally:
        await client.close()
    assert close_code(close) == 1001 and b"lifetime" in bytes(close.frame.data)
    assert logged(caplog, "lifetime")[0] - logged(caplog, "opened")[0] >= 0.6 * 0.99


# Faults ---------------------------------------------------------------------------------------


async def test_stall_sends_nothing_at_all_while_the_socket_stays_open(sim: Sim):
    client = await RawClient.connect(sim.ws())
    try:
        await client.texts(3)
        await sim.simulator.inject("binance-ws", "stall")
        sent = sim.state()["frames_sent"]["binance-ws"]
        await until(lambda: len(client.frames_of(Opcode.TEXT)) == sent, 5)  # those on the wire
        before = len(client.frames)
        client.send_ping(b"anyone?")
        await sim.steps(5)
        assert len(client.frames) == before  # no data, no pings, no pong to ours
        assert client.ended is None
        await sim.simulator.clear()
        await client.next(5, (Opcode.TEXT, Opcode.PONG))
    finally:
        await client.close()


async def test_drop_resets_connections_without_a_close_frame(sim: Sim):
    client = await RawClient.connect(sim.ws())
    await client.texts(1)
    await sim.simulator.inject("binance-ws", "drop")
    assert await client.wait_ended(5) == RESET
    assert client.frames_of(Opcode.CLOSE) == []
    await client.close()
    with pytest.raises((ConnectionResetError, Ended)):
        await RawClient.connect(sim.ws(index=1))
    await sim.simulator.clear()
    again = await RawClient.connect(sim.ws())
    assert len(await again.texts(3)) == 3
    await again.close()


async def test_refuse_closes_the_port_until_cleared(sim: Sim):
    client = await RawClient.connect(sim.ws())
    await client.texts(1)
    await sim.simulator.inject("binance-ws", "refuse")
    assert await client.wait_ended(5) == RESET
    await client.close()
    with pytest.raises(ConnectionRefusedError):
        await RawClient.connect(sim.ws())
    assert set(sim.state()["listening"]["binance-ws"].values()) == {False}
    await sim.simulator.clear()
    again = await RawClient.connect(sim.ws())
    assert len(await again.texts(3)) == 3
    await again.close()


def classify(text: str) -> str:
    """Which kind of malformed frame ``text`` is."""
    try:
        message = json.loads(text)
    except json.JSONDecodeError:
        return "truncated"
    if not isinstance(message, dict):
        return "not-an-object"
    if message.get("stream") in STREAMS and shape(message["data"]) == shape(MINI_TICKER):
        return "good"
    if message.get("data", {}).get("e") == "24hrMiniTicker":
        return "wrong-types"
    return "unknown-event"


async def test_malformed_frames_come_between_good_ones(sim: Sim):
    client = await RawClient.connect(sim.ws())
    try:
        await sim.simulator.inject("binance-ws", "malformed")
        while classify((await client.next(5, (Opcode.TEXT,))).text) == "good":
            pass  # up to the first bad one: every step from here brings three good, one bad
        kinds = [classify(text) for text in await client.texts(40, timeout=10)]
    finally:
        await client.close()
    bad = kinds[3::4]  # in a fixed rotation
    assert set(bad) == {"truncated", "wrong-types", "unknown-event", "not-an-object"}
    assert all(bad[n] == bad[n + 4] for n in range(len(bad) - 4))
    assert [kind for n, kind in enumerate(kinds) if n % 4 != 3] == ["good"] * 30
    assert sim.state()["malformed_sent"]["binance-ws"] >= 10


async def test_429_refuses_the_handshake_with_retry_after(sim: Sim):
    await sim.simulator.inject("binance-ws", "429", seconds=30)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sim.ws()):
            pass
    response = refused.value.response
    assert response.status_code == 429
    assert 29 <= int(response.headers["Retry-After"]) <= 30
    await sim.simulator.inject("binance-ws", "429")
    with pytest.raises(InvalidStatus) as untimed:
        async with connect(sim.ws()):
            pass
    assert untimed.value.response.headers["Retry-After"] == "7"  # SIM_FAULT_RETRY_AFTER


@pytest.mark.parametrize(("status", "expected"), [(None, 503), (502, 502)])
async def test_5xx_refuses_the_handshake(sim: Sim, status, expected):
    await sim.simulator.inject("binance-ws", "5xx", status=status)
    with pytest.raises(HandshakeFailed) as refused:
        await RawClient.connect(sim.ws(index=1))
    assert refused.value.status == expected


async def test_a_fault_with_seconds_expires_by_itself(sim: Sim):
    await sim.simulator.inject("binance-ws", "429")
    with pytest.raises(HandshakeFailed):
        await RawClient.connect(sim.ws())
    await sim.simulator.inject("binance-ws", "429", seconds=0.2)  # replaces it; nothing clears it
    await until(lambda: sim.state()["faults"] == [], 5)
    client = await RawClient.connect(sim.ws())
    assert len(await client.texts(3)) == 3
    await client.close()


async def test_hang_accepts_and_never_answers(sim: Sim):
    await sim.simulator.inject("binance-ws", "hang")
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.ws_ports[0])
    writer.write(b"GET /stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\r\n")
    await until(lambda: sim.state()["held"]["binance-ws"] == 1, 5)
    with pytest.raises(TimeoutError):
        await RawClient.connect(sim.ws(), timeout=0.3)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.3)
    await sim.simulator.clear()
    # Released: the hung connection is reset, new ones are served.
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), 5)
    writer.close()
    client = await RawClient.connect(sim.ws())
    assert len(await client.texts(3)) == 3
    await client.close()


async def test_shutdown_sends_the_documented_event_then_closes(sim: Sim, caplog):
    caplog.set_level(logging.INFO, logger="simulator.streams")
    clients = [await RawClient.connect(sim.ws(index=n)) for n in (0, 1)]
    try:
        for client in clients:
            await client.texts(3)
        await sim.simulator.inject("binance-ws", "shutdown")
        for client in clients:
            while "serverShutdown" not in (event := await client.next(5, (Opcode.TEXT,))).text:
                pass
            event_json = json.loads(event.text)
            assert shape(event_json) == shape(SERVER_SHUTDOWN_COMBINED)
            assert event_json["stream"] == "!serverShutdown"
            close = await client.next(5, (Opcode.CLOSE,))
            assert close_code(close) == 1001 and b"Server shutdown" in bytes(close.frame.data)
            assert await client.wait_ended(5) == EOF
    finally:
        for client in clients:
            await client.close()
    await until(lambda: len(logged(caplog, "closed (1001")) == 2, 5)
    notices, closes = logged(caplog, "sent serverShutdown"), logged(caplog, "closed (1001")
    assert len(notices) == 2
    assert all(closed - notice >= 0.3 * 0.99 for notice, closed in zip(notices, closes))
    # The notice lasts as long as the grace; connections after it are served as usual.
    await until(lambda: sim.state()["faults"] == [], 5)
    async with connect(sim.ws()) as ws:
        assert "24hrMiniTicker" in await asyncio.wait_for(ws.recv(), 5)


async def test_a_fault_on_one_port_spares_the_other(sim: Sim):
    await sim.simulator.inject("binance-ws", "stall", port=sim.ws_ports[0])
    first = await RawClient.connect(sim.ws(index=0))
    second = await RawClient.connect(sim.ws(index=1))
    try:
        assert len(await second.texts(6, timeout=5)) == 6
        assert first.frames == []
        assert [(f["fault"], f["port"]) for f in sim.state()["faults"]] == [
            ("stall", sim.ws_ports[0])
        ]
    finally:
        await first.close()
        await second.close()


async def test_a_websockets_client_sees_the_shutdown_close_as_clean(sim: Sim):
    async with connect(sim.ws()) as ws:
        await asyncio.wait_for(ws.recv(), 5)
        await sim.simulator.inject("binance-ws", "shutdown")
        with pytest.raises(ConnectionClosedOK):
            while True:
                await asyncio.wait_for(ws.recv(), 5)
    assert ws.close_code == 1001


async def test_a_skew_moves_the_streamed_prices_and_ends_with_the_fault(sim: Sim):
    await sim.simulator.inject("binance-ws", "skew", 5, percent=-50, instruments=("BTCUSDT",))
    async with connect(sim.ws()) as ws:
        first = [json.loads(await asyncio.wait_for(ws.recv(), 5))["data"] for _ in range(6)]
        skewed = {data["s"]: float(data["c"]) for data in first}
        # The walk keeps BTCUSDT within 97000 +- 20 %, USDCUSDT within 1.0001 +- 0.1 %.
        assert skewed["BTCUSDT"] < 97_000 * 1.2 * 0.5 and 0.999 < skewed["USDCUSDT"] < 1.0012
        await sim.simulator.clear("binance-ws")
        cleared_at = now_ms()
        while True:  # frames sent before the clear may still be on their way
            data = json.loads(await asyncio.wait_for(ws.recv(), 5))["data"]
            if data["s"] == "BTCUSDT" and data["E"] > cleared_at:
                break
    assert float(data["c"]) > 97_000 * 0.8
