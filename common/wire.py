"""The ZeroMQ wire: what feeders publish and gateways read.

A message is two frames, ``[topic, payload]``:

* topic ``tick.<source>.<instrument>`` or ``status.<source>``, ASCII, so a SUB socket filters by
  prefix without decoding anything;
* payload, MessagePack of the tagged union ``Tick | Status``.

Prices travel as exact decimals (MessagePack strings decoded into ``Decimal``), never as binary
floats. Schema evolution follows msgspec's rules: a new field is appended with a default, so an
older decoder skips it and a newer decoder fills it in; a breaking change is a new tag.
"""

from __future__ import annotations

import time
from decimal import Decimal

import msgspec

TICK_PREFIX = b"tick."
STATUS_PREFIX = b"status."


class Tick(msgspec.Struct, tag="tick", frozen=True, kw_only=True):
    """One price of one instrument, as one exchange message gave it."""

    source: str  #: the exchange: ``binance`` or ``coingecko``
    instrument: str  #: as the exchange names it: ``BTCUSDT``, ``bitcoin.rub``
    price: Decimal
    exchange_ts: int  #: the exchange's event time, ms since the epoch
    received_ts: int  #: when the feeder read it, ms since the epoch
    feeder_id: str  #: which feeder process published it
    seq: int  #: per feeder, increasing by one per published tick
    transport: str = ""  #: ``binance-ws``, ``binance-rest``, ``coingecko``
    #: A feeder's re-announcement of its last tick, so subscribers that joined late (or missed
    #: it) hold the value. It proves nothing about the stream being alive: heartbeats do that.
    replay: bool = False


class Status(msgspec.Struct, tag="status", frozen=True, kw_only=True):
    """A feeder's heartbeat about its own health, sent every second whatever happens."""

    source: str
    transport: str
    feeder_id: str
    sent_ts: int  #: ms since the epoch
    connected: bool  #: a connection or the last poll is up and answering
    last_message_age_ms: int | None  #: since the last good exchange message; None before any
    messages: int  #: exchange messages read
    ticks: int  #: ticks published
    #: malformed or unknown exchange messages dropped; "errors" on the wire, its first name, so
    #: processes on either side of the rename still read each other
    malformed: int = msgspec.field(name="errors")
    reconnects: int
    endpoint: str = ""  #: the exchange URL in use


Message = Tick | Status

_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Tick | Status] = msgspec.msgpack.Decoder(Message)

DecodeError = msgspec.DecodeError


def now_ms() -> int:
    """Wall-clock time in whole milliseconds since the epoch, the wire's time unit."""
    return time.time_ns() // 1_000_000


def topic_of(message: Message) -> bytes:
    """The topic frame of a message."""
    if isinstance(message, Tick):
        return b"tick.%s.%s" % (message.source.encode(), message.instrument.encode())
    return b"status.%s" % message.source.encode()


def encode(message: Message) -> list[bytes]:
    """The two frames of a message, ready for ``send_multipart``."""
    return [topic_of(message), _encoder.encode(message)]


def decode(payload: bytes) -> Message:
    """The message in a payload frame; raises ``DecodeError`` for anything else."""
    return _decoder.decode(payload)
