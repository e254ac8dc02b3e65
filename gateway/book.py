"""The rate book: the newest tick per source and instrument, and evidence that each is alive.

Pure state, no I/O: the subscriber feeds it messages with the loop's monotonic time.

*Newest* is by exchange time, so the same event arriving twice (two forwarders, two feeders)
or late (a warm start racing the live stream) changes nothing.

*Alive* is about the stream, not the price: a value stays fresh while a feeder that delivers it
shows signs of life, through its ticks or through heartbeats saying its stream is flowing. A
heartbeat saying the feeder lost its exchange withdraws that feeder's evidence at once.
"""

from __future__ import annotations

from collections.abc import Iterable

from common.wire import Status, Tick

Key = tuple[str, str]  #: (source, instrument)


class RateBook:
    """Latest tick per (source, instrument), per-feeder evidence of life, last heartbeats."""

    def __init__(self) -> None:
        self.ticks: dict[Key, Tick] = {}
        #: key -> feeder id -> when that feeder last showed the key's stream alive (monotonic s)
        self._alive: dict[Key, dict[str, float]] = {}
        #: feeder id -> the keys it has delivered
        self._delivers: dict[str, set[Key]] = {}
        #: feeder id -> its last heartbeat
        self.feeders: dict[str, Status] = {}

    def apply_tick(self, tick: Tick, now: float) -> bool:
        """Take a tick received at ``now``; True if it replaced the held value."""
        key = (tick.source, tick.instrument)
        alive = self._alive.setdefault(key, {})
        # A replay tells which feeder carries the key (so its heartbeats count for it), but
        # proves nothing by itself about the stream being alive.
        self._delivers.setdefault(tick.feeder_id, set()).add(key)
        if not tick.replay:
            alive[tick.feeder_id] = now
        return self._hold(key, tick)

    def _hold(self, key: Key, tick: Tick) -> bool:
        held = self.ticks.get(key)
        if held is not None and held.exchange_ts >= tick.exchange_ts:
            return False
        self.ticks[key] = tick
        return True

    def load(self, ticks: Iterable[Tick]) -> int:
        """Warm start: take stored ticks as values, but not as evidence of life."""
        return sum(self._hold((tick.source, tick.instrument), tick) for tick in ticks)

    def apply_status(self, status: Status, now: float) -> None:
        """Take a feeder's heartbeat received at ``now``."""
        self.feeders[status.feeder_id] = status
        keys = self._delivers.get(status.feeder_id, ())
        if status.connected and status.last_message_age_ms is not None:
            seen = now - status.last_message_age_ms / 1000
            for key in keys:
                alive = self._alive[key]
                alive[status.feeder_id] = max(alive.get(status.feeder_id, seen), seen)
        else:
            for key in keys:
                self._alive[key].pop(status.feeder_id, None)

    def alive_at(self, key: Key) -> float | None:
        """When the key's stream was last known alive (monotonic s), or None."""
        alive = self._alive.get(key)
        return max(alive.values()) if alive else None
