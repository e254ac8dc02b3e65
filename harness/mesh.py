"""A subscriber of our own on the mesh (for tests and benchmarks): every message with the time
it arrived.

A SUB socket misses whatever is published before its subscription has reached the publisher
(through each forwarder). :meth:`MeshListener.wait_subscribed` sends probes on a topic nobody
else subscribes to until one comes back through every forwarder: from then on nothing is missed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

import zmq

from common.wire import DecodeError, Status, Tick, decode, now_ms
from harness.procs import wait_for

#: The topic of the probes: neither a tick nor a status, so no gateway subscribes to it.
PROBE = b"probe."


M = TypeVar("M", Tick, Status)


@dataclass(frozen=True)
class Received(Generic[M]):
    """One message and when it arrived."""

    at_ms: int  #: wall clock, ms, when the SUB socket handed it over
    at: float  #: monotonic seconds, for measuring gaps
    message: M


class MeshListener:
    """A SUB socket on every given XPUB endpoint, read by a thread until ``close``."""

    def __init__(self, endpoints: list[str], prefix: bytes = b"") -> None:
        self._context = zmq.Context()
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.RCVTIMEO, 100)
        self._socket.setsockopt(zmq.SUBSCRIBE, prefix)
        if not PROBE.startswith(prefix):
            self._socket.setsockopt(zmq.SUBSCRIBE, PROBE)
        for endpoint in endpoints:
            self._socket.connect(endpoint)
        self._lock = threading.Lock()
        self._ticks: list[Received[Tick]] = []
        self._statuses: list[Received[Status]] = []
        self.undecodable = 0
        self._probes: set[bytes] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                topic, *_, payload = self._socket.recv_multipart()
            except zmq.Again:
                continue
            if topic.startswith(PROBE):
                self._probes.add(payload)
                continue
            at_ms, at = now_ms(), time.monotonic()
            try:
                message = decode(payload)
            except DecodeError:
                self.undecodable += 1
                continue
            with self._lock:
                if isinstance(message, Tick):
                    self._ticks.append(Received(at_ms, at, message))
                else:
                    self._statuses.append(Received(at_ms, at, message))

    def wait_subscribed(self, xsub_endpoints: list[str], timeout: float = 15.0) -> None:
        """Return once a probe sent into each forwarder (its XSUB endpoint) has come back."""
        publishers = {
            endpoint.encode(): self._context.socket(zmq.PUB) for endpoint in xsub_endpoints
        }
        try:
            for endpoint, publisher in publishers.items():
                publisher.setsockopt(zmq.LINGER, 0)
                publisher.connect(endpoint.decode())

            def all_back() -> bool:
                for endpoint in publishers.keys() - self._probes:
                    publishers[endpoint].send_multipart([PROBE, endpoint])
                return publishers.keys() <= self._probes

            wait_for(all_back, timeout, interval=0.05, what="the listener subscribed")
        finally:
            for publisher in publishers.values():
                publisher.close()

    def ticks(self, transport: str | None = None, live_only: bool = True) -> list[Received[Tick]]:
        """Ticks received, of one transport if given; replays left out unless asked."""
        with self._lock:
            return [
                r
                for r in self._ticks
                if transport in (None, r.message.transport) and not (live_only and r.message.replay)
            ]

    def statuses(self, transport: str | None = None) -> list[Received[Status]]:
        with self._lock:
            return [r for r in self._statuses if transport in (None, r.message.transport)]

    def last_status(self, transport: str) -> Status | None:
        statuses = self.statuses(transport)
        return statuses[-1].message if statuses else None

    def instruments(self, transport: str) -> set[str]:
        return {r.message.instrument for r in self.ticks(transport)}

    def clear(self) -> None:
        with self._lock:
            self._ticks.clear()
            self._statuses.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self._socket.close(0)
        self._context.term()


def largest_gap(received: list[Received[Tick]], since: float | None = None) -> float:
    """The longest silence, in seconds, between consecutive messages (after ``since``)."""
    times = [r.at for r in received if since is None or r.at >= since]
    return max((b - a for a, b in zip(times, times[1:])), default=0.0)
