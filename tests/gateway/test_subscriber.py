"""The gateway's subscriber over ``inproc://``: what reaches the rates, and what does not."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest
import zmq
import zmq.asyncio

from common.wire import Tick, encode
from gateway.pricing import Budgets
from gateway.rates import Rates
from gateway.subscriber import Subscriber
from harness.procs import until
from tests.gateway.ticks import T0, binance_ticks, tick


class Mesh:
    """A PUB socket bound where the subscriber connects, and the subscriber running."""

    def __init__(self, pub: zmq.Socket[bytes], subscriber: Subscriber, sunk: list[Tick]) -> None:
        self.pub = pub
        self.subscriber = subscriber
        self.sunk = sunk

    def send(self, *frames: bytes) -> None:
        self.pub.send_multipart(list(frames))


@pytest.fixture(name="mesh")
async def mesh_fixture() -> AsyncIterator[Mesh]:
    """A subscriber reading a PUB socket of the test's, both on inproc://."""
    context = zmq.asyncio.Context()
    endpoint = f"inproc://mesh-{uuid.uuid4().hex}"
    pub: zmq.Socket[bytes] = zmq.Context.shadow(context.underlying).socket(zmq.PUB)
    pub.bind(endpoint)
    sunk: list[Tick] = []
    subscriber = Subscriber(context, [endpoint], Rates(Budgets()), [sunk.append])
    task = asyncio.create_task(subscriber.run())
    mesh = Mesh(pub, subscriber, sunk)
    # PUB drops what it sends before the subscription reached it: send until one arrives.
    probe = tick("USDCUSDT", "1.0001", exchange_ts=T0 - 60_000)
    while not sunk:
        mesh.send(*encode(probe))
        await asyncio.sleep(0.01)
    sunk.clear()
    try:
        yield mesh
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        pub.close(0)
        context.term()


async def test_ticks_reach_the_book_and_every_sink(mesh: Mesh):
    for message in binance_ticks():
        mesh.send(*encode(message))
    await until(lambda: len(mesh.sunk) == len(binance_ticks()), 5)
    book = mesh.subscriber.rates.book
    assert book.ticks[("binance", "BTCUSDT")] == binance_ticks()[0]
    assert mesh.subscriber.received[("binance", "BTCUSDT")] == 1


async def test_replays_are_counted_apart(mesh: Mesh):
    replay = msgspec.structs.replace(tick("BTCUSDT", "97000", exchange_ts=T0), replay=True)
    mesh.send(*encode(replay))
    await until(lambda: mesh.sunk, 5)
    assert mesh.subscriber.replays == 1
    assert ("binance", "BTCUSDT") not in mesh.subscriber.received


async def test_what_does_not_decode_is_counted_and_the_rest_still_flows(mesh: Mesh):
    good = binance_ticks()[0]
    mesh.send(b"tick.binance.BTCUSDT", b"\xff not msgpack")
    mesh.send(b"tick.binance.BTCUSDT", b"x", b"a third frame")
    mesh.send(*encode(good))
    await until(lambda: mesh.sunk, 5)
    assert mesh.subscriber.decode_errors == 2
    assert mesh.sunk == [good]


async def test_other_topics_are_not_subscribed(mesh: Mesh):
    mesh.send(b"gossip", b"whatever")
    mesh.send(*encode(binance_ticks()[1]))
    await until(lambda: mesh.sunk, 5)
    assert mesh.subscriber.decode_errors == 0
