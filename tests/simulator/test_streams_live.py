"""The stream servers of a real ``python -m simulator``, through real websocket clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.frames import Opcode

from common.wire import now_ms
from simulator.market import Market
from tests.simulator.rawws import RawClient
from tests.simulator.samples import MINI_TICKER, shape

pytestmark = pytest.mark.live

STREAMS = ("btcusdt@miniTicker", "ethusdt@miniTicker", "usdcusdt@miniTicker")
COMBINED = "/stream?streams=" + "/".join(STREAMS)
DECIMAL = re.compile(r"^\d+\.\d{8}$")


async def test_combined_stream_payloads_match_the_documentation(sim):
    async with connect(sim.ws(COMBINED)) as ws:
        messages = [json.loads(await asyncio.wait_for(ws.recv(), 2)) for _ in range(6)]
    for message in messages:
        assert list(message) == ["stream", "data"]
        data = message["data"]
        assert shape(data) == shape(MINI_TICKER)
        assert message["stream"] == f"{data['s'].lower()}@miniTicker"
        assert all(DECIMAL.match(data[key]) for key in "cohlvq")
        assert abs(data["E"] - now_ms()) < 2000
    assert {m["stream"] for m in messages} == set(STREAMS)


async def test_raw_stream_sends_the_bare_payload(sim):
    async with connect(sim.ws("/ws/ethusdt@miniTicker", index=1)) as ws:
        messages = [json.loads(await asyncio.wait_for(ws.recv(), 2)) for _ in range(3)]
    for data in messages:
        assert shape(data) == shape(MINI_TICKER)
        assert data["s"] == "ETHUSDT"


async def test_one_message_per_stream_per_tick(sim):
    """Tick 0.1 s: each tick brings exactly one frame per stream, in subscription order."""
    client = await RawClient.connect(sim.ws(COMBINED))
    try:
        texts = await client.texts(30)
        start = time.monotonic()
        later = await client.texts(30)
        elapsed = time.monotonic() - start
    finally:
        await client.close()
    streams = [json.loads(text)["stream"] for text in texts + later]
    first = streams.index(STREAMS[0])
    cycle = streams[first : first + 57]
    assert cycle == list(STREAMS) * 19
    # 30 frames are ten ticks: about a second.
    assert 0.7 < elapsed < 1.4
    events = [json.loads(text)["data"]["E"] for text in later]
    assert events == sorted(events)


async def test_prices_are_the_walk_of_the_configured_seed(sim):
    state = await asyncio.to_thread(sim.state)
    market = Market(42)
    market.advance_to(state["step"])
    assert state["binance"] == {symbol: f"{p:.8f}" for symbol, p in market.prices().items()}
    assert state["usd_rub"] == str(market.usd_rub)


async def test_event_time_is_the_wall_clock_at_send_time(sim):
    client = await RawClient.connect(sim.ws("/ws/btcusdt@miniTicker"))
    try:
        for _ in range(5):
            received = await client.next(2, (Opcode.TEXT,))
            # Our clock read on arrival, against E stamped by the sender: loopback, so close.
            lag = now_ms() - json.loads(received.text)["E"]
            assert -5 <= lag < 250
    finally:
        await client.close()


async def reply(ws, request_id: int) -> dict:
    """The reply to request ``request_id``, skipping the market data in between."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 2))
        if message.get("id") == request_id:
            return message


async def test_live_subscription_requests(sim):
    async with connect(sim.ws("/ws")) as ws:
        request = {"method": "SUBSCRIBE", "params": ["usdcusdt@miniTicker"], "id": 1}
        await ws.send(json.dumps(request))
        assert json.loads(await ws.recv()) == {"result": None, "id": 1}
        data = json.loads(await asyncio.wait_for(ws.recv(), 2))
        assert data["s"] == "USDCUSDT"
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 3}))
        assert await reply(ws, 3) == {"result": ["usdcusdt@miniTicker"], "id": 3}
        request = {"method": "UNSUBSCRIBE", "params": ["usdcusdt@miniTicker"], "id": 4}
        await ws.send(json.dumps(request))
        assert await reply(ws, 4) == {"result": None, "id": 4}
        # At most the one frame of a tick already under way, then silence.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)


async def test_unknown_streams_are_accepted_and_silent(sim):
    async with connect(sim.ws("/stream?streams=dogeusdt@miniTicker/btcusdt@depth")) as ws:
        await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 7}))
        assert json.loads(await ws.recv()) == {
            "result": ["dogeusdt@miniTicker", "btcusdt@depth"],
            "id": 7,
        }
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.5)


async def test_unknown_paths_are_refused(sim):
    with pytest.raises(InvalidStatus) as refused:
        async with connect(sim.ws("/api/v3/stream")):
            pass
    assert refused.value.response.status_code == 404


async def test_more_than_five_messages_a_second_disconnects(sim):
    async with connect(sim.ws("/ws")) as ws:
        for request_id in range(8):
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
        with pytest.raises(ConnectionClosedError) as closed:
            while True:
                await asyncio.wait_for(ws.recv(), 2)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008


async def test_five_messages_a_second_are_fine(sim):
    async with connect(sim.ws("/ws"), ping_interval=None) as ws:
        for request_id in range(4):
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
            assert json.loads(await ws.recv()) == {"result": [], "id": request_id}
        await asyncio.sleep(1.1)
        for request_id in range(4):
            await ws.send(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": request_id}))
            assert json.loads(await ws.recv())["id"] == request_id


async def test_state_counts_connections_and_frames(sim):
    before = await asyncio.to_thread(sim.state)
    async with connect(sim.ws(COMBINED)), connect(sim.ws(COMBINED, index=1)) as second:
        for _ in range(6):
            await asyncio.wait_for(second.recv(), 2)
        during = await asyncio.to_thread(sim.state)
    assert during["connections"]["binance-ws"] == before["connections"]["binance-ws"] + 2
    assert sorted(during["ports"]["binance-ws"].values()) == [1, 1]
    assert during["frames_sent"]["binance-ws"] >= before["frames_sent"]["binance-ws"] + 6
    assert during["pings_sent"] >= before["pings_sent"]
