from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from common import wire
from common.wire import Status, Tick


def make_tick(**changes) -> Tick:
    """A tick with every field set; ``changes`` override some."""
    fields = {
        "source": "binance",
        "instrument": "BTCUSDT",
        "price": Decimal("97123.45000001"),
        "exchange_ts": 1_700_000_000_123,
        "received_ts": 1_700_000_000_130,
        "feeder_id": "binance-ws@host:1",
        "seq": 7,
        "transport": "binance-ws",
    }
    return Tick(**{**fields, **changes})


def make_status() -> Status:
    return Status(
        source="coingecko",
        transport="coingecko",
        feeder_id="coingecko@host:2",
        sent_ts=1_700_000_000_000,
        connected=True,
        last_message_age_ms=1500,
        messages=3,
        ticks=18,
        malformed=1,
        reconnects=0,
        endpoint="http://127.0.0.1:8902",
    )


def test_tick_round_trip_keeps_the_exact_decimal():
    tick = make_tick(price=Decimal("0.00000001"))
    topic, payload = wire.encode(tick)
    assert topic == b"tick.binance.BTCUSDT"
    decoded = wire.decode(payload)
    assert decoded == tick
    assert decoded.price.as_tuple() == Decimal("0.00000001").as_tuple()


def test_price_travels_as_a_string_never_a_float():
    _, payload = wire.encode(make_tick(price=Decimal("0.1")))
    raw = msgspec.msgpack.decode(payload)
    assert raw["price"] == "0.1"


def test_status_round_trip_and_topic():
    status = make_status()
    topic, payload = wire.encode(status)
    assert topic == b"status.coingecko"
    assert wire.decode(payload) == status


def test_malformed_count_keeps_its_first_name_on_the_wire():
    _, payload = wire.encode(make_status())
    raw = msgspec.msgpack.decode(payload)
    assert raw["errors"] == 1 and "malformed" not in raw
    assert wire.decode(msgspec.msgpack.encode(raw)).malformed == 1


def test_topics_filter_by_prefix():
    assert wire.topic_of(make_tick()).startswith(wire.TICK_PREFIX)
    assert wire.topic_of(make_status()).startswith(wire.STATUS_PREFIX)


@pytest.mark.parametrize(
    "payload", [b"", b"\xc1", msgspec.msgpack.encode({"type": "nope"}), b"\x93\x01\x02\x03"]
)
def test_garbage_raises_decode_error(payload):
    with pytest.raises(wire.DecodeError):
        wire.decode(payload)


def test_wrong_type_raises_decode_error():
    raw = msgspec.msgpack.decode(wire.encode(make_tick())[1])
    raw["exchange_ts"] = "yesterday"
    with pytest.raises(wire.DecodeError):
        wire.decode(msgspec.msgpack.encode(raw))


def tick_version(drop: tuple[str, ...] = (), add: tuple[Any, ...] = ()) -> type:
    """``Tick`` as another version of the code would define it: fields dropped or appended."""
    fields = [
        (f.name, f.type) if f.required else (f.name, f.type, f.default)
        for f in msgspec.structs.fields(Tick)
        if f.name not in drop
    ]
    return msgspec.defstruct("Tick", [*fields, *add], tag="tick", frozen=True, kw_only=True)


#: A later version: one more field, appended with a default.
NewerTick = tick_version(add=(("venue_latency_us", int, 0),))
#: The first version, before ``transport`` and ``replay`` were appended.
OlderTick = tick_version(drop=("transport", "replay"))


def test_an_old_decoder_reads_a_newer_message():
    newer = NewerTick(
        source="binance",
        instrument="ETHUSDT",
        price=Decimal("3400.5"),
        exchange_ts=1,
        received_ts=2,
        feeder_id="f",
        seq=1,
        transport="binance-ws",
        venue_latency_us=250,
    )
    decoded = wire.decode(msgspec.msgpack.encode(newer))
    assert isinstance(decoded, Tick)
    assert decoded.price == Decimal("3400.5")
    assert decoded.transport == "binance-ws"


def test_a_newer_decoder_fills_defaults_for_an_older_message():
    older = OlderTick(
        source="binance",
        instrument="ETHUSDT",
        price=Decimal("3400.5"),
        exchange_ts=1,
        received_ts=2,
        feeder_id="f",
        seq=1,
    )
    decoded = wire.decode(msgspec.msgpack.encode(older))
    assert decoded.transport == ""


def test_now_ms_is_wall_clock_milliseconds():
    before = wire.now_ms()
    assert 1_600_000_000_000 < before <= wire.now_ms()
