from __future__ import annotations

import msgspec

from gateway.book import RateBook
from tests.gateway.ticks import T0, status, tick


def test_keeps_the_newest_exchange_time_whatever_the_arrival_order():
    book = RateBook()
    assert book.apply_tick(tick("BTCUSDT", "2", T0 + 2), now=0)
    assert not book.apply_tick(tick("BTCUSDT", "1", T0 + 1), now=1)
    assert book.ticks[("binance", "BTCUSDT")].price == 2


def test_a_duplicate_changes_nothing():
    book = RateBook()
    first = tick("BTCUSDT", "1", T0, feeder_id="ws-a")
    assert book.apply_tick(first, now=0)
    assert not book.apply_tick(first, now=0.001)
    assert not book.apply_tick(tick("BTCUSDT", "1", T0, feeder_id="ws-b"), now=0.002)
    assert len(book.ticks) == 1


def test_sources_are_kept_apart():
    book = RateBook()
    book.apply_tick(tick("BTCUSDT", "1"), now=0)
    book.apply_tick(tick("bitcoin.usd", "2", transport="coingecko"), now=0)
    assert set(book.ticks) == {("binance", "BTCUSDT"), ("coingecko", "bitcoin.usd")}


def test_an_older_or_repeated_tick_still_proves_the_stream_alive():
    book = RateBook()
    book.apply_tick(tick("BTCUSDT", "1", T0 + 5), now=0)
    book.apply_tick(tick("BTCUSDT", "1", T0 + 1), now=7)
    assert book.alive_at(("binance", "BTCUSDT")) == 7


def test_a_heartbeat_of_a_flowing_stream_keeps_quiet_instruments_alive():
    book = RateBook()
    book.apply_tick(tick("USDCUSDT", "1.0001"), now=0)
    # USDCUSDT does not move, but the stream carrying it delivered 200 ms before the heartbeat.
    book.apply_status(status("binance-ws", connected=True, age_ms=200), now=10)
    assert book.alive_at(("binance", "USDCUSDT")) == 9.8


def test_a_heartbeat_never_moves_evidence_backwards():
    book = RateBook()
    book.apply_tick(tick("BTCUSDT", "1"), now=10)
    book.apply_status(status("binance-ws", connected=True, age_ms=3000), now=10.5)
    assert book.alive_at(("binance", "BTCUSDT")) == 10


def test_a_disconnected_feeder_withdraws_its_evidence_but_not_others():
    book = RateBook()
    book.apply_tick(tick("BTCUSDT", "1", T0, "binance-ws"), now=0)
    book.apply_tick(tick("BTCUSDT", "1", T0 + 1, "binance-rest"), now=1)
    book.apply_status(status("binance-rest", connected=False, age_ms=None), now=2)
    assert book.alive_at(("binance", "BTCUSDT")) == 0
    book.apply_status(status("binance-ws", connected=False, age_ms=5000), now=3)
    assert book.alive_at(("binance", "BTCUSDT")) is None
    assert ("binance", "BTCUSDT") in book.ticks  # the value stays, only its freshness goes


def test_warm_start_values_are_not_evidence_and_live_ticks_win_only_when_newer():
    book = RateBook()
    assert book.load([tick("BTCUSDT", "5", T0 + 10)]) == 1
    assert book.alive_at(("binance", "BTCUSDT")) is None
    assert not book.apply_tick(tick("BTCUSDT", "4", T0 + 5), now=1)
    assert book.ticks[("binance", "BTCUSDT")].price == 5
    assert book.alive_at(("binance", "BTCUSDT")) == 1


def test_heartbeats_are_kept_per_feeder():
    book = RateBook()
    book.apply_status(status("coingecko", True, 100), now=0)
    assert book.feeders["coingecko-1"].connected


def test_a_replayed_tick_gives_the_value_but_no_evidence():
    book = RateBook()
    replayed = msgspec.structs.replace(tick("bitcoin.usd", "3", T0, "coingecko"), replay=True)
    assert book.apply_tick(replayed, now=5)
    assert book.alive_at(("coingecko", "bitcoin.usd")) is None
    # ...but the heartbeats of the feeder that replayed it do.
    book.apply_status(status("coingecko", connected=True, age_ms=2000), now=6)
    assert book.alive_at(("coingecko", "bitcoin.usd")) == 4
