"""The forwarder's proxy: relays, counts, and stops at once even while traffic flows."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import zmq

from forwarder.proxy import Forwarder
from harness.procs import wait_for

#: Stopping takes a few milliseconds; a stop that loses its TERMINATE waits out the relay
#: thread's 5 s join.
STOP_BOUND = 1.0


@pytest.fixture(name="thread_errors")
def thread_errors_fixture(monkeypatch) -> list[BaseException]:
    """Exceptions that ended a thread (the relay's ``ContextTerminated``, for one)."""
    errors: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda hook: errors.append(hook.exc_value))
    return errors


class Traffic:
    """A publisher sending a tick every millisecond through a forwarder, and a subscriber."""

    def __init__(self, forwarder: Forwarder) -> None:
        assert forwarder.bound is not None
        self.context = zmq.Context()
        self.pub = self.context.socket(zmq.PUB)
        self.pub.connect(forwarder.bound[0])
        self.sub = self.context.socket(zmq.SUB)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.setsockopt(zmq.RCVTIMEO, 5000)
        self.sub.connect(forwarder.bound[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while not self._stop.is_set():
            self.pub.send_multipart([b"tick.binance.BTCUSDT", b"payload"])
            time.sleep(0.001)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.context.destroy(linger=0)


@pytest.fixture(name="forwarder")
def forwarder_fixture() -> Iterator[Forwarder]:
    forwarder = Forwarder("tcp://127.0.0.1:0", "tcp://127.0.0.1:0")
    forwarder.start()
    yield forwarder
    forwarder.stop()


def test_relays_and_counts_by_kind(forwarder: Forwarder):
    traffic = Traffic(forwarder)
    try:
        assert traffic.sub.recv_multipart() == [b"tick.binance.BTCUSDT", b"payload"]
        # The counting thread reads a copy of the traffic, a little after the relay.
        wait_for(lambda: forwarder.counts.get("tick", 0) >= 1, 5, what="a tick counted")
    finally:
        traffic.close()
    assert forwarder.counts["subscription"] >= 1  # one, or again after a reconnect
    assert forwarder.bytes > 0


@pytest.mark.parametrize("attempt", range(20))
def test_stops_at_once_while_relaying(attempt: int, thread_errors: list[BaseException]):
    del attempt  # each run races the stop against the traffic again
    forwarder = Forwarder("tcp://127.0.0.1:0", "tcp://127.0.0.1:0")
    forwarder.start()
    traffic = Traffic(forwarder)
    try:
        traffic.sub.recv_multipart()  # traffic is crossing the proxy
        started = time.monotonic()
        forwarder.stop()
        took = time.monotonic() - started
    finally:
        traffic.close()
    assert took < STOP_BOUND
    assert not thread_errors  # the relay ended on TERMINATE, not on a terminated context
    assert not any(t.name.startswith("forwarder") for t in threading.enumerate())


def test_a_port_in_use_is_refused(forwarder: Forwarder):
    assert forwarder.bound is not None
    taken = Forwarder(forwarder.bound[0], "tcp://127.0.0.1:0")
    with pytest.raises(zmq.ZMQError):
        taken.start()
    taken.stop()
