"""An XSUB/XPUB proxy run by libzmq in a thread, stoppable from any other thread."""

from __future__ import annotations

import logging
import threading

import zmq

from common.mesh import HIGH_WATER_MARK

log = logging.getLogger(__name__)


class Forwarder:
    """Binds XSUB (publishers connect) and XPUB (subscribers connect) and relays between them.

    Data flows XSUB -> XPUB; subscriptions flow back XPUB -> XSUB so publishers filter at the
    source. The relay loop is libzmq's own ``zmq_proxy_steerable``: no Python on the data path.
    """

    def __init__(self, xsub_endpoint: str, xpub_endpoint: str) -> None:
        self._context = zmq.Context()
        self._xsub_endpoint = xsub_endpoint
        self._xpub_endpoint = xpub_endpoint
        self._control_endpoint = f"inproc://forwarder-control-{id(self)}"
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.bound: tuple[str, str] | None = None

    def start(self) -> None:
        """Bind and start relaying; raises if either endpoint cannot be bound."""
        self._thread = threading.Thread(target=self._run, name="forwarder", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        xsub = self._context.socket(zmq.XSUB)
        xpub = self._context.socket(zmq.XPUB)
        control = self._context.socket(zmq.PAIR)
        try:
            for socket in (xsub, xpub):
                socket.setsockopt(zmq.LINGER, 0)
                socket.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
                socket.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
            xsub.bind(self._xsub_endpoint)
            xpub.bind(self._xpub_endpoint)
            control.bind(self._control_endpoint)
            self.bound = (
                xsub.getsockopt_string(zmq.LAST_ENDPOINT),
                xpub.getsockopt_string(zmq.LAST_ENDPOINT),
            )
        except zmq.ZMQError as error:
            self._error = error
            self._ready.set()
            for socket in (xsub, xpub, control):
                socket.close(0)
            return
        self._ready.set()
        try:
            zmq.proxy_steerable(xsub, xpub, None, control)
        finally:
            for socket in (xsub, xpub, control):
                socket.close(0)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop relaying, close the sockets and wait for the relay thread."""
        if self._thread is None:
            return
        if self._thread.is_alive():
            signal = self._context.socket(zmq.PAIR)
            signal.connect(self._control_endpoint)
            signal.send(b"TERMINATE")
            signal.close(0)
            self._thread.join(timeout)
        self._context.term()
        self._thread = None
