"""Every fault on the stream servers of a real simulator, observed from the client's side."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus
from websockets.frames import Opcode

from harness.ports import port_open
from tests.simulator.conftest import until
from tests.simulator.rawws import EOF, RESET, Ended, HandshakeFailed, RawClient
from tests.simulator.samples import MINI_TICKER, SERVER_SHUTDOWN, shape

pytestmark = pytest.mark.live

STREAMS = ("btcusdt@miniTicker", "ethusdt@miniTicker", "usdcusdt@miniTicker")
COMBINED = "/stream?streams=" + "/".join(STREAMS)


async def test_stall_sends_nothing_at_all_while_the_socket_stays_open(sim):
    client = await RawClient.connect(sim.ws(COMBINED))
    try:
        await client.texts(3)
        injected = await asyncio.to_thread(sim.inject, "binance-ws", "stall", seconds=1.2)
        assert injected["injected"]["remaining"] == pytest.approx(1.2, abs=0.1)
        stalled_at = time.monotonic()
        await asyncio.sleep(0.15)  # a tick already on the wire may still land
        quiet_from = len(client.frames)
        client.send_ping(b"anyone?")
        await asyncio.sleep(0.75)
        assert client.frames[quiet_from:] == []  # no data, no pings, no pong to ours
        assert client.ended is None
        resumed = await client.next(2, (Opcode.TEXT, Opcode.PONG))
    finally:
        await client.close()
    assert resumed.at - stalled_at > 1.1


async def test_drop_resets_connections_without_a_close_frame(sim):
    client = await RawClient.connect(sim.ws(COMBINED))
    await client.texts(1)
    await asyncio.to_thread(sim.inject, "binance-ws", "drop")
    assert await client.wait_ended(2) == RESET
    assert client.frames_of(Opcode.CLOSE) == []
    await client.close()
    with pytest.raises((ConnectionResetError, Ended)):
        await RawClient.connect(sim.ws(COMBINED, index=1))
    await asyncio.to_thread(sim.clear)
    again = await RawClient.connect(sim.ws(COMBINED))
    assert len(await again.texts(3)) == 3
    await again.close()


async def test_refuse_closes_the_port_until_cleared(sim):
    client = await RawClient.connect(sim.ws(COMBINED))
    await client.texts(1)
    await asyncio.to_thread(sim.inject, "binance-ws", "refuse")
    assert await client.wait_ended(2) == RESET
    await client.close()
    with pytest.raises(ConnectionRefusedError):
        await RawClient.connect(sim.ws(COMBINED))
    state = await asyncio.to_thread(sim.state)
    assert set(state["listening"]["binance-ws"].values()) == {False}
    await asyncio.to_thread(sim.clear)
    await until(lambda: port_open(sim.ws_ports[0]), 2)
    again = await RawClient.connect(sim.ws(COMBINED))
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


async def test_malformed_frames_come_between_good_ones(sim):
    client = await RawClient.connect(sim.ws(COMBINED))
    try:
        await asyncio.to_thread(sim.inject, "binance-ws", "malformed")
        await asyncio.sleep(0.15)
        texts = await client.texts(40)
    finally:
        await client.close()
    kinds = [classify(text) for text in texts]
    good = [json.loads(t)["stream"] for t, kind in zip(texts, kinds) if kind == "good"]
    bad = [kind for kind in kinds if kind != "good"]
    # Every tick: one good frame per stream, then one bad frame.
    assert 29 <= len(good) <= 31 and 9 <= len(bad) <= 11
    assert set(bad) == {"truncated", "wrong-types", "unknown-event", "not-an-object"}
    assert {stream: good.count(stream) for stream in STREAMS} == pytest.approx(
        {stream: 10 for stream in STREAMS}, abs=1
    )
    state = await asyncio.to_thread(sim.state)
    assert state["malformed_sent"]["binance-ws"] >= len(bad)


async def test_429_refuses_the_handshake_with_retry_after(sim):
    await asyncio.to_thread(sim.inject, "binance-ws", "429", seconds=30)
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sim.ws(COMBINED)):
            pass
    response = refused.value.response
    assert response.status_code == 429
    assert 29 <= int(response.headers["Retry-After"]) <= 30


@pytest.mark.parametrize(("extra", "status"), [({}, 503), ({"status": 502}, 502)])
async def test_5xx_refuses_the_handshake(sim, extra, status):
    await asyncio.to_thread(sim.inject, "binance-ws", "5xx", **extra)
    with pytest.raises(HandshakeFailed) as refused:
        await RawClient.connect(sim.ws(COMBINED, index=1))
    assert refused.value.status == status


async def test_a_fault_with_seconds_expires_by_itself(sim):
    await asyncio.to_thread(sim.inject, "binance-ws", "429", seconds=0.4)
    with pytest.raises(HandshakeFailed):
        await RawClient.connect(sim.ws(COMBINED))
    await asyncio.sleep(0.5)
    client = await RawClient.connect(sim.ws(COMBINED))
    assert len(await client.texts(3)) == 3
    await client.close()
    assert (await asyncio.to_thread(sim.state))["faults"] == []


async def test_hang_accepts_and_never_answers(sim):
    await asyncio.to_thread(sim.inject, "binance-ws", "hang")
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.ws_ports[0])
    writer.write(
        b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
    )
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    with pytest.raises(TimeoutError):
        await RawClient.connect(sim.ws(COMBINED), timeout=0.5)

    # The first is still held; the second one's client gave up and was let go.
    async def held() -> bool:
        return (await asyncio.to_thread(sim.state))["connections"]["binance-ws"] == 1

    await until(held, 1)
    await asyncio.to_thread(sim.clear)
    # Released: the hung connection is reset, new ones are served.
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(reader.read(1), 1)
    writer.close()
    client = await RawClient.connect(sim.ws(COMBINED))
    assert len(await client.texts(3)) == 3
    await client.close()


async def test_shutdown_sends_the_documented_event_then_closes(sim):
    combined = await RawClient.connect(sim.ws(COMBINED))
    raw = await RawClient.connect(sim.ws("/ws/btcusdt@miniTicker", index=1))
    try:
        await combined.texts(3)
        await raw.texts(1)
        await asyncio.to_thread(sim.inject, "binance-ws", "shutdown")
        sent = time.monotonic()
        events = {}
        for name, client in (("combined", combined), ("raw", raw)):
            while True:
                received = await client.next(1, (Opcode.TEXT,))
                message = json.loads(received.text)
                if "serverShutdown" in received.text:
                    events[name] = (received.at, message)
                    break
        closes = [await client.next(2, (Opcode.CLOSE,)) for client in (combined, raw)]
        assert await combined.wait_ended(1) == EOF
    finally:
        await combined.close()
        await raw.close()
    assert list(events["combined"][1]) == ["stream", "data"]
    assert events["combined"][1]["stream"] == "!serverShutdown"
    assert shape(events["combined"][1]["data"]) == shape(SERVER_SHUTDOWN)
    assert events["combined"][1]["data"]["e"] == "serverShutdown"
    assert shape(events["raw"][1]) == shape(SERVER_SHUTDOWN)
    for close in closes:
        assert bytes(close.frame.data)[:2] == (1001).to_bytes(2, "big")
        assert 0.4 < close.at - sent < 0.9  # SIM_SHUTDOWN_GRACE=0.5

    async def expired() -> bool:
        return (await asyncio.to_thread(sim.state))["faults"] == []

    # The notice lasts as long as the grace; connections after it are served as usual.
    await until(expired, 1)
    async with connect(sim.ws(COMBINED)) as ws:
        assert "24hrMiniTicker" in await asyncio.wait_for(ws.recv(), 2)


async def test_a_fault_on_one_port_spares_the_other(sim):
    await asyncio.to_thread(sim.inject, "binance-ws", "stall", port=sim.ws_ports[0])
    first = await RawClient.connect(sim.ws(COMBINED, index=0))
    second = await RawClient.connect(sim.ws(COMBINED, index=1))
    try:
        assert len(await second.texts(6, timeout=2)) == 6
        assert first.frames == []
        faults = (await asyncio.to_thread(sim.state))["faults"]
        assert faults == [
            {
                "target": "binance-ws",
                "fault": "stall",
                "port": sim.ws_ports[0],
                "status": None,
                "remaining": None,
            }
        ]
    finally:
        await first.close()
        await second.close()


async def test_connections_closed_by_the_simulator_are_reported_ok(sim):
    """A websockets client sees the shutdown close as a clean close (1001), not an error."""
    async with connect(sim.ws(COMBINED)) as ws:
        await asyncio.wait_for(ws.recv(), 2)
        await asyncio.to_thread(sim.inject, "binance-ws", "shutdown")
        with pytest.raises(ConnectionClosedOK):
            while True:
                await asyncio.wait_for(ws.recv(), 2)
    assert ws.close_code == 1001
