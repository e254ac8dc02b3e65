"""Pings, pong timeouts and the connection lifetime of a real simulator with short timers."""

from __future__ import annotations

import pytest
from websockets.frames import Opcode

from tests.simulator.rawws import EOF, RawClient

pytestmark = pytest.mark.live

COMBINED = "/stream?streams=btcusdt@miniTicker/ethusdt@miniTicker/usdcusdt@miniTicker"


@pytest.fixture(scope="module", name="sim_env")
def timers_env() -> dict[str, str]:
    return {
        "SIM_PING_INTERVAL": "0.3",
        "SIM_PONG_TIMEOUT": "0.9",
        "SIM_CONNECTION_LIFETIME": "2.5",
    }


async def test_server_pings_at_the_configured_interval(sim):
    client = await RawClient.connect(sim.ws(COMBINED))
    try:
        pings = [await client.next(2, (Opcode.PING,)) for _ in range(4)]
    finally:
        await client.close()
    gaps = [b.at - a.at for a, b in zip(pings, pings[1:])]
    assert all(0.2 < gap < 0.45 for gap in gaps), gaps  # SIM_PING_INTERVAL=0.3


async def test_no_pong_within_the_timeout_disconnects(sim):
    client = await RawClient.connect(sim.ws(COMBINED), answer_pings=False)
    try:
        first_ping = await client.next(2, (Opcode.PING,))
        close = await client.next(3, (Opcode.CLOSE,))
    finally:
        await client.close()
    # Pong timeout 0.9 s after an unanswered ping.
    assert 0.8 < close.at - first_ping.at < 1.3
    assert bytes(close.frame.data)[:2] == (1008).to_bytes(2, "big")


async def test_the_lifetime_cap_closes_the_connection(sim):
    client = await RawClient.connect(sim.ws(COMBINED))
    try:
        opened = (await client.next(2, (Opcode.TEXT,))).at
        close = await client.next(4, (Opcode.CLOSE,))
        assert await client.wait_ended(2) == EOF
    finally:
        await client.close()
    assert 2.2 < close.at - opened < 3.0
    assert bytes(close.frame.data)[:2] == (1001).to_bytes(2, "big")
    assert b"lifetime" in bytes(close.frame.data)
