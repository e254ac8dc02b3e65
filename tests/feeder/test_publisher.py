"""The feeder's publisher over ``inproc://``: what a subscriber receives."""

from __future__ import annotations

from decimal import Decimal

from common.wire import Status, Tick
from feeder.parsers import Quote
from gateway.book import RateBook
from harness.procs import until
from tests.feeder.conftest import Published


async def test_quotes_go_out_as_ticks_with_their_topic_and_sequence(published: Published):
    quotes = [
        Quote("BTCUSDT", Decimal("97000.01"), 1000),
        Quote("ETHUSDT", Decimal("3400.5"), 1001),
    ]
    assert published.publisher.publish(quotes, received_ts=1005) == 2
    assert published.publisher.publish([Quote("BTCUSDT", Decimal("97000.02"), 1002)]) == 1
    await until(lambda: len(published.ticks()) == 3, 5)
    first, second, third = published.ticks()
    assert published.topics == [
        b"tick.binance.BTCUSDT",
        b"tick.binance.ETHUSDT",
        b"tick.binance.BTCUSDT",
    ]
    assert first == Tick(
        source="binance",
        instrument="BTCUSDT",
        price=Decimal("97000.01"),
        exchange_ts=1000,
        received_ts=1005,
        feeder_id="binance-ws@test",
        seq=1,
        transport="binance-ws",
    )
    assert (second.seq, third.seq) == (2, 3) and third.received_ts >= 1005
    assert published.health.ticks == 3


async def test_what_the_feeder_does_not_carry_is_counted_and_dropped(published: Published):
    quotes = [Quote("DOGEUSDT", Decimal("1"), 1), Quote("bitcoin.usd", Decimal("1"), 1)]
    assert published.publisher.publish(quotes) == 0
    assert published.health.malformed == 2
    published.publisher.heartbeat()
    await until(lambda: published.messages, 5)
    assert published.ticks(live_only=False) == []


async def test_a_heartbeat_is_the_last_tick_of_each_instrument_again_then_the_status(
    published: Published,
):
    publisher = published.publisher
    publisher.publish([Quote("BTCUSDT", Decimal("1"), 1), Quote("BTCUSDT", Decimal("2"), 2)])
    publisher.publish([Quote("USDCUSDT", Decimal("1.0001"), 3)])
    published.health.connected = True
    published.health.message_received()
    publisher.heartbeat()
    await until(lambda: len(published.messages) == 6, 5)
    replays = published.ticks(live_only=False)[3:]
    assert [(t.instrument, t.price, t.replay) for t in replays] == [
        ("BTCUSDT", Decimal("2"), True),
        ("USDCUSDT", Decimal("1.0001"), True),
    ]
    status = published.messages[5][1]
    assert isinstance(status, Status) and status.connected and status.ticks == 3
    assert published.topics[5] == b"status.binance"
    # Replays first: a gateway that joined after the live ticks holds every value by the time
    # the status arrives, which then proves each of them alive (fresh after one heartbeat).
    book = RateBook()
    for _, message in published.messages[3:]:
        if isinstance(message, Tick):
            book.apply_tick(message, now=200.0)
        else:
            book.apply_status(message, now=200.0)
    assert all(book.alive_at(("binance", i)) is not None for i in ("BTCUSDT", "USDCUSDT"))
