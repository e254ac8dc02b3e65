"""The feeder's publisher: ticks and heartbeats on a real PUB socket, read by a rate book."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import zmq

from common.markets import COINGECKO, COINGECKO_REST
from common.wire import Tick, decode
from feeder.health import FeedHealth
from feeder.parsers import Quote
from feeder.publisher import Publisher
from gateway.book import RateBook

INSTRUMENT = "bitcoin.usd"


@pytest.fixture(name="pair")
def pair_fixture() -> Iterator[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]]:
    """A PUB socket and a SUB socket subscribed to everything on it."""
    context = zmq.Context()
    pub, sub = context.socket(zmq.PUB), context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVTIMEO, 5000)
    pub.bind("inproc://publisher-test")
    sub.connect("inproc://publisher-test")
    yield pub, sub
    context.destroy(linger=0)


def _feeder(pub: zmq.Socket[bytes]) -> Publisher:
    health = FeedHealth(COINGECKO, COINGECKO_REST, "coingecko@test", clock=lambda: 100.0)
    health.connected = True
    health.message_received()
    return Publisher(pub, health, [INSTRUMENT])


def test_a_gateway_joining_between_polls_is_fresh_after_one_heartbeat(pair):
    pub, sub = pair
    publisher = _feeder(pub)
    publisher.publish([Quote(INSTRUMENT, Decimal("97000.5"), 1_000)])
    sub.recv_multipart()  # the live tick: a gateway subscribing later never sees it
    publisher.heartbeat()
    book = RateBook()
    for _ in range(2):  # the replay and the status, in the order they were sent
        _topic, payload = sub.recv_multipart()
        message = decode(payload)
        if isinstance(message, Tick):
            book.apply_tick(message, now=200.0)
        else:
            book.apply_status(message, now=200.0)
    assert book.ticks[(COINGECKO, INSTRUMENT)].price == Decimal("97000.5")
    assert book.alive_at((COINGECKO, INSTRUMENT)) is not None
