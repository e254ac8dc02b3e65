"""Injected faults: the table of what each one does, and the registry of those in force.

The targets never look at a fault's name, only at its :class:`Kind`'s flags: a new fault is one
row of :data:`KINDS` (and, when it does something no row does yet, one flag and the code that
reads it). One fault per scope at a time; a new injection replaces the old one. A scope is a
whole target, or for ``binance-ws`` one of its ports (one stream host), which wins over the
target-wide fault. The registry is pure: its clock is injected.

A ``skew`` is the one fault that leaves the connections alone and changes the prices: every
price the target serves (or only the instruments named) is multiplied by ``1 + percent/100``,
from the next one sent, so a test can show what a venue quoting a wrong price does downstream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from common.markets import (
    BINANCE_SYMBOLS,
    BINANCE_WS,
    COINGECKO_IDS,
    COINGECKO_INSTRUMENTS,
    COINGECKO_REST,
    TRANSPORTS,
)

#: The simulated exchanges' endpoints are named after the transports that read them.
TARGETS = TRANSPORTS
COINGECKO = COINGECKO_REST
CLEAR = "clear"
ONE = Decimal(1)

#: Instrument -> what its price is multiplied by: a fault's :meth:`Fault.factor`.
Skew = Callable[[str], Decimal]


def no_skew(_instrument: str) -> Decimal:
    """Prices as they are."""
    return ONE


#: What a skew may name, per target: Binance symbols; CoinGecko coins (every currency) or a
#: coin in one currency (``bitcoin.rub``), as the gateway names its values.
INSTRUMENTS: dict[str, tuple[str, ...]] = {
    target: (
        (*COINGECKO_IDS, *COINGECKO_INSTRUMENTS) if target == COINGECKO_REST else BINANCE_SYMBOLS
    )
    for target in TARGETS
}


@dataclass(frozen=True)
class Kind:
    """What one fault does to the connections of a target."""

    name: str
    targets: tuple[str, ...] = TARGETS
    #: open connections are reset, and new ones as they arrive
    resets: bool = False
    #: the port stops listening
    refuses: bool = False
    #: new connections are accepted and never read
    holds: bool = False
    #: websocket: open connections send nothing, read nothing, ping nothing;
    #: REST: requests are read and never answered
    stalls: bool = False
    #: requests (REST) and opening handshakes (websocket) are refused with this status...
    status: int | None = None
    #: ...or with one of these, if the injection names it
    statuses: tuple[int, ...] = ()
    #: bad payloads instead of (REST) or between (websocket) good ones
    malformed: bool = False
    #: websocket: ``serverShutdown``, then a close after the grace
    shuts_down: bool = False
    #: prices are multiplied by ``1 + percent/100``; connections are left alone
    skews: bool = False


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        # Connections stay open, nothing is sent (websocket: no frames, no pings either; REST:
        # requests are read and never answered).
        Kind("stall", stalls=True),
        # Every open connection is aborted with a TCP reset, new ones as they arrive.
        Kind("drop", resets=True),
        # The port stops listening (ECONNREFUSED) and open connections are aborted.
        Kind("refuse", resets=True, refuses=True),
        # Invalid JSON, wrong types and unknown events (websocket: between good frames; REST: a
        # 200 with a malformed body).
        Kind("malformed", malformed=True),
        # REST: 429 with Retry-After; websocket: the opening handshake is refused so.
        Kind("429", status=429),
        # REST: 503 (or status 500/502); websocket: the opening handshake is refused so.
        Kind("5xx", status=503, statuses=(500, 502, 503)),
        # Connections are accepted and never answered (websocket: no handshake).
        Kind("hang", holds=True),
        # serverShutdown on every connection, closed after the grace; lasts the grace unless
        # seconds says longer, and connections opened meanwhile get the notice too.
        Kind("shutdown", targets=(BINANCE_WS,), shuts_down=True),
        # Prices off by a percent (of every instrument, or of those named): a wrong venue.
        Kind("skew", skews=True),
    )
}

#: Every target's faults, for the control API's answers.
TARGET_FAULTS: dict[str, list[str]] = {
    target: [name for name, kind in KINDS.items() if target in kind.targets] for target in TARGETS
}


class FaultError(ValueError):
    """An injection that names an unknown target, fault, port or status."""


@dataclass(frozen=True)
class Fault:
    """One fault in force."""

    target: str
    kind: Kind
    expires: float | None = None  #: clock time it ends by itself; ``None`` until cleared
    port: int | None = None  #: the one listener it applies to; ``None`` for the whole target
    status: int | None = None  #: what requests are refused with, for a refusing kind
    percent: Decimal | None = None  #: a skew's size, e.g. 10 (prices * 1.1)
    instruments: tuple[str, ...] = ()  #: a skew's instruments; empty: every one

    @property
    def name(self) -> str:
        return self.kind.name

    def factor(self, instrument: str) -> Decimal:
        """What this fault multiplies ``instrument``'s price by (CoinGecko's: ``coin.vs``)."""
        if self.percent is None or not self.kind.skews:
            return ONE
        coin = instrument.partition(".")[0]
        if self.instruments and not {instrument, coin} & set(self.instruments):
            return ONE
        return ONE + self.percent / 100

    @property
    def scope(self) -> str:
        return self.target if self.port is None else f"{self.target}:{self.port}"

    def remaining(self, now: float) -> float | None:
        """Seconds until it expires, ``None`` if it lasts until cleared."""
        return None if self.expires is None else max(0.0, self.expires - now)

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires


class FaultRegistry:
    """The faults in force, per scope. ``ports`` are each target's listeners, known once bound."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.now = clock
        self.ports: dict[str, tuple[int, ...]] = {}
        self._faults: dict[tuple[str, int | None], Fault] = {}

    def inject(
        self,
        target: str,
        name: str,
        seconds: float | None = None,
        port: int | None = None,
        status: int | None = None,
        *,
        percent: float | None = None,
        instruments: tuple[str, ...] = (),
    ) -> Fault:
        """Put fault ``name`` on ``target`` (or one of its ports), replacing what was there."""
        kind = self._validate(target, name, seconds, port, status)
        size = _skew_size(target, kind, percent, instruments)
        expires = None if seconds is None else self.now() + seconds
        fault = Fault(target, kind, expires, port, status or kind.status, size, instruments)
        self._faults[(target, port)] = fault
        return fault

    def factor(self, target: str, instrument: str, port: int | None = None) -> Decimal:
        """What the fault in force multiplies ``instrument``'s price by on ``target``."""
        fault = self.active(target, port)
        return ONE if fault is None else fault.factor(instrument)

    def clear(self, target: str | None = None, port: int | None = None) -> list[Fault]:
        """Remove faults: all, one target's (with its ports'), or one port's; returns them."""
        if target is not None and target not in TARGETS:
            raise FaultError(f"unknown target {target!r}; valid targets: {', '.join(TARGETS)}")
        removed = [
            fault
            for fault in self._faults.values()
            if target in (None, fault.target) and port in (None, fault.port)
        ]
        for fault in removed:
            del self._faults[(fault.target, fault.port)]
        return removed

    def active(self, target: str, port: int | None = None) -> Fault | None:
        """The fault in force on ``target`` at ``port``: the port's own, else the target's."""
        now = self.now()
        for key in dict.fromkeys(((target, port), (target, None))):
            fault = self._faults.get(key)
            if fault is not None and not fault.expired(now):
                return fault
        return None

    def expire(self) -> list[Fault]:
        """Forget the faults whose time is up; returns them so their effects can be undone."""
        now = self.now()
        expired = [fault for fault in self._faults.values() if fault.expired(now)]
        for fault in expired:
            del self._faults[(fault.target, fault.port)]
        return expired

    def next_expiry(self) -> float | None:
        """When the next fault ends by itself, if any does."""
        return min(
            (f.expires for f in self._faults.values() if f.expires is not None), default=None
        )

    def faults(self) -> list[Fault]:
        """Every fault in force."""
        now = self.now()
        return [fault for fault in self._faults.values() if not fault.expired(now)]

    def _validate(
        self, target: str, name: str, seconds: float | None, port: int | None, status: int | None
    ) -> Kind:
        if target not in TARGETS:
            raise FaultError(f"unknown target {target!r}; valid targets: {', '.join(TARGETS)}")
        kind = KINDS.get(name)
        if kind is None or target not in kind.targets:
            valid = ", ".join([*TARGET_FAULTS[target], CLEAR])
            raise FaultError(f"unknown fault {name!r} for {target}; valid faults: {valid}")
        if seconds is not None and not seconds > 0:
            raise FaultError(f"seconds must be positive, got {seconds!r}")
        if port is not None and port not in self.ports.get(target, ()):
            listed = ", ".join(map(str, self.ports.get(target, ()))) or "none"
            raise FaultError(f"{target} does not listen on port {port}; its ports: {listed}")
        if status is not None and status not in kind.statuses:
            choices = {n: k.statuses for n, k in KINDS.items() if k.statuses}
            listed = "; ".join(f"{n}: {', '.join(map(str, s))}" for n, s in choices.items())
            raise FaultError(f"status {status} does not apply to {name} ({listed})")
        return kind


def _skew_size(
    target: str, kind: Kind, percent: float | None, instruments: tuple[str, ...]
) -> Decimal | None:
    """A skew's percent as an exact decimal; a skew needs one, any other fault takes none."""
    if not kind.skews:
        if percent is not None or instruments:
            raise FaultError(f"percent and instruments apply to skew only, not {kind.name}")
        return None
    if percent is None or not -100 < percent <= 1000 or percent == 0:
        raise FaultError(f"skew needs a percent in (-100, 1000], not 0; got {percent!r}")
    unknown = [name for name in instruments if name not in INSTRUMENTS[target]]
    if unknown:
        valid = ", ".join(INSTRUMENTS[target])
        raise FaultError(f"unknown instruments {unknown} for {target}; valid: {valid}")
    # Through str: 10.1 is 10.1, not the binary float's 10.0999999999999996447...
    return Decimal(str(percent))
