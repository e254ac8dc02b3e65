"""Injected faults: which target misbehaves, how, and until when.

A pure registry (the clock is injected); the targets read it and turn it into socket behaviour.
One fault per scope at a time; a new injection replaces the old one. A scope is a whole target,
or for ``binance-ws`` one of its ports (one stream host), which wins over the target-wide fault.

=============  =============================================================================
fault          effect
=============  =============================================================================
``stall``      connections stay open, nothing is sent (websocket: no frames, no pings either;
               REST: requests are read and never answered)
``drop``       every open connection is aborted with a TCP reset, new ones as they arrive
``refuse``     the port stops listening (ECONNREFUSED) and open connections are aborted
``malformed``  invalid JSON, wrong types and unknown events (websocket: between good frames;
               REST: a 200 with a malformed body)
``429``        REST: 429 with ``Retry-After``; websocket: the handshake is refused with 429
``5xx``        REST: 503 (or ``status`` 500/502); websocket: the handshake is refused with 503
``hang``       connections are accepted and never answered (websocket: no handshake)
``shutdown``   websocket only: ``serverShutdown`` on every connection, closed after the grace;
               lasts the grace unless ``seconds`` says longer, and connections opened
               meanwhile get the notice too
=============  =============================================================================
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

BINANCE_WS = "binance-ws"
BINANCE_REST = "binance-rest"
COINGECKO = "coingecko"
TARGETS: tuple[str, ...] = (BINANCE_WS, BINANCE_REST, COINGECKO)

STALL = "stall"
DROP = "drop"
REFUSE = "refuse"
MALFORMED = "malformed"
TOO_MANY_REQUESTS = "429"
SERVER_ERROR = "5xx"
HANG = "hang"
SHUTDOWN = "shutdown"
CLEAR = "clear"
FAULTS: tuple[str, ...] = (
    STALL,
    DROP,
    REFUSE,
    MALFORMED,
    TOO_MANY_REQUESTS,
    SERVER_ERROR,
    HANG,
    SHUTDOWN,
)
TARGET_FAULTS: dict[str, tuple[str, ...]] = {
    BINANCE_WS: FAULTS,
    BINANCE_REST: tuple(fault for fault in FAULTS if fault != SHUTDOWN),
    COINGECKO: tuple(fault for fault in FAULTS if fault != SHUTDOWN),
}
SERVER_ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)


class FaultError(ValueError):
    """An injection that names an unknown target, fault, port or status."""


@dataclass(frozen=True)
class Fault:
    """One active fault."""

    target: str
    name: str
    started: float
    expires: float | None = None  #: clock time it ends by itself; ``None`` until cleared
    port: int | None = None  #: the one listener it applies to; ``None`` for the whole target
    status: int = 503  #: the status a ``5xx`` fault answers with

    def remaining(self, now: float) -> float | None:
        """Seconds until it expires, ``None`` if it lasts until cleared."""
        return None if self.expires is None else max(0.0, self.expires - now)

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires

    @property
    def scope(self) -> str:
        return self.target if self.port is None else f"{self.target}:{self.port}"


class FaultRegistry:
    """The faults in force, per scope."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        ports: Mapping[str, Iterable[int]] | None = None,
    ) -> None:
        self._clock = clock
        self._ports = {target: tuple(values) for target, values in (ports or {}).items()}
        self._faults: dict[tuple[str, int | None], Fault] = {}

    def now(self) -> float:
        return self._clock()

    def inject(
        self,
        target: str,
        fault: str,
        seconds: float | None = None,
        port: int | None = None,
        status: int | None = None,
    ) -> Fault:
        """Put ``fault`` on ``target`` (or one of its ports), replacing what was there."""
        self._validate(target, fault, seconds, port, status)
        now = self._clock()
        injected = Fault(
            target=target,
            name=fault,
            started=now,
            expires=None if seconds is None else now + seconds,
            port=port,
            status=status if status is not None else 503,
        )
        self._faults[(target, port)] = injected
        return injected

    def clear(self, target: str | None = None, port: int | None = None) -> list[Fault]:
        """Remove faults: all, one target's (with its ports'), or one port's; returns them."""
        if target is not None and target not in TARGETS:
            raise FaultError(f"unknown target {target!r}; valid targets: {', '.join(TARGETS)}")
        removed = []
        for key, fault in list(self._faults.items()):
            if target is not None and fault.target != target:
                continue
            if port is not None and fault.port != port:
                continue
            removed.append(self._faults.pop(key))
        return removed

    def active(self, target: str, port: int | None = None) -> Fault | None:
        """The fault in force on ``target`` at ``port``: the port's own, else the target's."""
        now = self._clock()
        for key in ((target, port), (target, None)) if port is not None else ((target, None),):
            fault = self._faults.get(key)
            if fault is not None and not fault.expired(now):
                return fault
        return None

    def expire(self) -> list[Fault]:
        """Forget the faults whose time is up; returns them so their effects can be undone."""
        now = self._clock()
        expired = [fault for fault in self._faults.values() if fault.expired(now)]
        for fault in expired:
            del self._faults[(fault.target, fault.port)]
        return expired

    def faults(self) -> list[Fault]:
        """Every fault in force."""
        now = self._clock()
        return [fault for fault in self._faults.values() if not fault.expired(now)]

    def _validate(
        self,
        target: str,
        fault: str,
        seconds: float | None,
        port: int | None,
        status: int | None,
    ) -> None:
        if target not in TARGETS:
            raise FaultError(f"unknown target {target!r}; valid targets: {', '.join(TARGETS)}")
        valid = TARGET_FAULTS[target]
        if fault not in valid:
            raise FaultError(
                f"unknown fault {fault!r} for {target}; valid faults: {', '.join(valid)}, {CLEAR}"
            )
        if seconds is not None and not seconds > 0:
            raise FaultError(f"seconds must be positive, got {seconds!r}")
        if port is not None:
            ports = self._ports.get(target, ())
            if port not in ports:
                listed = ", ".join(str(p) for p in ports) or "none"
                raise FaultError(f"{target} does not listen on port {port}; its ports: {listed}")
        if status is not None and (fault != SERVER_ERROR or status not in SERVER_ERROR_STATUSES):
            statuses = ", ".join(str(s) for s in SERVER_ERROR_STATUSES)
            raise FaultError(f"status applies to the {SERVER_ERROR} fault only: one of {statuses}")
