"""What the HTTP routes and the metrics read from one replica.

A Protocol owned by those readers: they depend on this narrow view, never on the replica's class,
so the replica (and the app factory that wires them together) imports them and not the reverse.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg

from gateway.rates import Rates
from gateway.subscriber import Subscriber
from gateway.writer import TickWriter


class ReplicaView(Protocol):
    """One replica's state, read-only: the rates, its mesh and storage sides, its readiness."""

    @property
    def rates(self) -> Rates: ...

    @property
    def subscriber(self) -> Subscriber | None: ...

    @property
    def writer(self) -> TickWriter | None: ...

    @property
    def pool(self) -> asyncpg.Pool | None:
        """PostgreSQL, when the replica has one: the history routes read it."""

    @property
    def warm_start_seconds(self) -> float | None:
        """How long loading the stored ticks took, once done."""

    def ready(self) -> tuple[bool, str]:
        """Whether to send traffic here, and why (or why not)."""
