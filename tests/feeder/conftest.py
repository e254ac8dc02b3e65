"""A feeder's publisher on ``inproc://``, read back by a SUB socket in the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import zmq
import zmq.asyncio

from common.markets import SOURCE_INSTRUMENTS, TRANSPORT_SOURCE
from common.wire import Message, Status, Tick, decode
from feeder.health import FeedHealth
from feeder.publisher import Publisher


@dataclass
class Published:
    """What a feeder put on the wire, as a subscriber decoded it (with its loop time)."""

    publisher: Publisher
    health: FeedHealth
    topics: list[bytes] = field(default_factory=list)
    messages: list[tuple[float, Message]] = field(default_factory=list)

    def ticks(self, live_only: bool = True) -> list[Tick]:
        return [m for _, m in self.messages if isinstance(m, Tick) and not (live_only and m.replay)]

    def tick_times(self, instrument: str) -> list[float]:
        return [at for at, m in self.messages if isinstance(m, Tick) and m.instrument == instrument]

    def statuses(self) -> list[Status]:
        return [m for _, m in self.messages if isinstance(m, Status)]


@pytest.fixture(name="transport")
def transport_fixture() -> str:
    """The transport of the feeder under test; a module may override it."""
    return "binance-ws"


@pytest.fixture(name="published")
async def published_fixture(transport: str) -> AsyncIterator[Published]:
    """A feeder's publisher and health for ``transport``, and what a subscriber got."""
    context = zmq.asyncio.Context()
    endpoint = f"inproc://feeder-{uuid.uuid4().hex}"
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.bind(endpoint)
    # The feeder's socket is a plain one, as in feeder/runner.py, on the same context.
    pub: zmq.Socket[bytes] = zmq.Context.shadow(context.underlying).socket(zmq.PUB)
    pub.connect(endpoint)
    source = TRANSPORT_SOURCE[transport]
    health = FeedHealth(source, transport, f"{transport}@test")
    published = Published(Publisher(pub, health, SOURCE_INSTRUMENTS[source]), health)
    loop = asyncio.get_running_loop()

    async def collect() -> None:
        while True:
            topic, payload = await sub.recv_multipart()
            published.topics.append(topic)
            published.messages.append((loop.time(), decode(payload)))

    collector = asyncio.create_task(collect())
    # PUB drops what it sends before the subscription reached it: wait for one to arrive.
    while not published.messages:
        published.publisher.heartbeat()
        await asyncio.sleep(0.01)
    published.messages.clear()
    published.topics.clear()
    try:
        yield published
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
        pub.close(0)
        sub.close(0)
        context.term()
