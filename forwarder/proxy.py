"""An XSUB/XPUB proxy run by libzmq in a thread, stoppable from any other thread, with a copy
of the traffic counted for metrics."""

from __future__ import annotations

import logging
import threading

import zmq

from common.mesh import HIGH_WATER_MARK
from common.wire import STATUS_PREFIX, TICK_PREFIX

log = logging.getLogger(__name__)


def kind_of(first_frame: bytes) -> str:
    """What a frame crossing the proxy is: a tick, a heartbeat, or a (un)subscription."""
    if first_frame.startswith(TICK_PREFIX):
        return "tick"
    if first_frame.startswith(STATUS_PREFIX):
        return "status"
    if first_frame[:1] in (b"\x00", b"\x01"):
        return "subscription"
    return "other"


class Forwarder:
    """Binds XSUB (publishers connect) and XPUB (subscribers connect) and relays between them.

    Data flows XSUB -> XPUB; subscriptions flow back XPUB -> XSUB so publishers filter at the
    source. The relay loop is libzmq's own ``zmq_proxy_steerable``: no Python on the data path.
    A copy of every message goes to a PUB capture socket (which drops rather than block when
    the counting thread lags) and is counted by kind.
    """

    def __init__(self, xsub_endpoint: str, xpub_endpoint: str) -> None:
        self._context = zmq.Context()
        self._xsub_endpoint = xsub_endpoint
        self._xpub_endpoint = xpub_endpoint
        self._control_endpoint = f"inproc://forwarder-control-{id(self)}"
        self._capture_endpoint = f"inproc://forwarder-capture-{id(self)}"
        self._threads: list[threading.Thread] = []
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self.bound: tuple[str, str] | None = None
        #: messages relayed, by kind (tick, status, subscription, other)
        self.counts: dict[str, int] = {}
        self.bytes = 0

    def start(self) -> None:
        """Bind and start relaying; raises if either endpoint cannot be bound."""
        relay = threading.Thread(target=self._run, name="forwarder", daemon=True)
        relay.start()
        self._threads.append(relay)
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        xsub = self._context.socket(zmq.XSUB)
        xpub = self._context.socket(zmq.XPUB)
        control = self._context.socket(zmq.PAIR)
        capture = self._context.socket(zmq.PUB)
        sockets = (xsub, xpub, control, capture)
        try:
            for socket in (xsub, xpub, capture):
                socket.setsockopt(zmq.LINGER, 0)
                socket.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
                socket.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
            xsub.bind(self._xsub_endpoint)
            xpub.bind(self._xpub_endpoint)
            control.bind(self._control_endpoint)
            capture.bind(self._capture_endpoint)
            self.bound = (
                xsub.getsockopt_string(zmq.LAST_ENDPOINT),
                xpub.getsockopt_string(zmq.LAST_ENDPOINT),
            )
        except zmq.ZMQError as error:
            self._error = error
            self._ready.set()
            for socket in sockets:
                socket.close(0)
            return
        counter = threading.Thread(target=self._count, name="forwarder-count", daemon=True)
        counter.start()
        self._threads.append(counter)
        self._ready.set()
        try:
            zmq.proxy_steerable(xsub, xpub, capture, control)
        finally:
            for socket in sockets:
                socket.close(0)

    def _count(self) -> None:
        copies = self._context.socket(zmq.SUB)
        copies.setsockopt(zmq.SUBSCRIBE, b"")
        copies.setsockopt(zmq.RCVTIMEO, 200)
        copies.setsockopt(zmq.LINGER, 0)
        copies.connect(self._capture_endpoint)
        try:
            while not self._stopping.is_set():
                try:
                    frames = copies.recv_multipart()
                except zmq.Again:
                    continue
                kind = kind_of(frames[0])
                self.counts[kind] = self.counts.get(kind, 0) + 1
                self.bytes += sum(len(frame) for frame in frames)
        finally:
            copies.close(0)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop relaying, close the sockets and wait for the threads."""
        if not self._threads:
            return
        self._stopping.set()
        if self._threads[0].is_alive():
            signal = self._context.socket(zmq.PAIR)
            signal.connect(self._control_endpoint)
            signal.send(b"TERMINATE")
            signal.close(0)
        for thread in self._threads:
            thread.join(timeout)
        self._context.term()
        self._threads.clear()
