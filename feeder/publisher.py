"""Turns quotes into ``Tick``s and puts them, and heartbeats, on the mesh."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import msgspec
import zmq

from common.logs import Throttle
from common.wire import Tick, encode, now_ms
from feeder.health import FeedHealth
from feeder.parsers import Quote

log = logging.getLogger(__name__)


class Publisher:
    """Owns the PUB socket of one feeder. PUB never blocks: past the high-water mark a
    forwarder that cannot keep up loses messages rather than stalling the feed.

    Only the instruments the feeder is meant to carry go out; anything else an exchange sends
    is counted as an error and dropped.
    """

    def __init__(
        self, socket: zmq.Socket[bytes], health: FeedHealth, instruments: Iterable[str]
    ) -> None:
        self._socket = socket
        self._health = health
        self._instruments = frozenset(instruments)
        self._seq = 0
        self._unknown_log = Throttle(10.0)
        #: instrument -> the frames re-announcing its last tick
        self._replays: dict[str, list[bytes]] = {}

    def publish(self, quotes: Iterable[Quote], received_ts: int | None = None) -> int:
        """Publish one exchange message's quotes, stamped with when the message was read;
        returns how many were ours."""
        received = now_ms() if received_ts is None else received_ts
        health = self._health
        published = 0
        for quote in quotes:
            if quote.instrument not in self._instruments:
                self._unknown(quote.instrument)
                continue
            published += 1
            self._seq += 1
            tick = Tick(
                source=health.source,
                instrument=quote.instrument,
                price=quote.price,
                exchange_ts=quote.exchange_ts,
                received_ts=received,
                feeder_id=health.feeder_id,
                seq=self._seq,
                transport=health.transport,
            )
            self._socket.send_multipart(encode(tick), flags=zmq.NOBLOCK)
            self._replays[tick.instrument] = encode(msgspec.structs.replace(tick, replay=True))
            health.ticks += 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("tick %s %s at %d", tick.instrument, tick.price, tick.exchange_ts)
        return published

    def _unknown(self, instrument: str) -> None:
        self._health.malformed += 1
        held = self._unknown_log.held_back_if_due()
        if held is not None:
            log.warning(
                "dropped a quote for unknown %r (%d more since last report)", instrument, held
            )

    def heartbeat(self) -> None:
        """Publish the feeder's ``Status``, and re-announce the last tick of each instrument.

        PUB/SUB keeps no history: without the replays a gateway that starts (or a forwarder
        that restarts) between two CoinGecko polls would wait a whole interval for values.
        """
        self._socket.send_multipart(encode(self._health.status()), flags=zmq.NOBLOCK)
        for frames in self._replays.values():
            self._socket.send_multipart(frames, flags=zmq.NOBLOCK)
