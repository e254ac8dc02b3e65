"""Reads the mesh into the rates: every forwarder, every tick and heartbeat.

Messages are applied in batches (whatever is queued when the loop gets to them) and the
directions re-priced once per batch, and again at the moment a fresh course would go stale.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import cast

import zmq
import zmq.asyncio
from zmq.utils.monitor import parse_monitor_message

from common.logs import Throttle
from common.mesh import sub_socket
from common.wire import STATUS_PREFIX, TICK_PREFIX, DecodeError, Tick, decode
from gateway.rates import Rates

log = logging.getLogger(__name__)

MAX_BATCH = 1000


class Subscriber:
    """Owns the SUB socket; tells which forwarders it is connected to."""

    def __init__(
        self,
        context: zmq.asyncio.Context,
        endpoints: Sequence[str],
        rates: Rates,
        tick_sinks: Sequence[Callable[[Tick], None]] = (),
    ) -> None:
        self.endpoints = tuple(endpoints)
        self.rates = rates
        self.tick_sinks = tuple(tick_sinks)
        self.socket = sub_socket(context, (), (TICK_PREFIX, STATUS_PREFIX))
        # The monitor goes on before any connect, or a quick handshake would go unseen.
        self._monitor_socket = self.socket.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_SUCCEEDED | zmq.EVENT_DISCONNECTED
        )
        for endpoint in self.endpoints:
            self.socket.connect(endpoint)
        self.connected: set[str] = set()
        #: live ticks received, by (source, instrument); replays counted apart
        self.received: dict[tuple[str, str], int] = {}
        self.replays = 0
        self.decode_errors = 0
        self._decode_log = Throttle(10.0)
        self._reprice_timer: asyncio.TimerHandle | None = None

    async def run(self) -> None:
        """Read until cancelled."""
        monitor = asyncio.create_task(self._monitor(), name="zmq-monitor")
        try:
            await self._read()
        finally:
            monitor.cancel()
            await asyncio.gather(monitor, return_exceptions=True)
            if self._reprice_timer is not None:
                self._reprice_timer.cancel()
            # Here, not in the monitor task: a task cancelled before it ran never cleans up.
            self.socket.disable_monitor()
            self._monitor_socket.close(linger=0)
            self.socket.close(linger=0)

    async def _read(self) -> None:
        loop = asyncio.get_running_loop()
        socket = self.socket
        while True:
            batch = [await socket.recv_multipart()]
            # Whatever else is already queued joins the batch: one re-pricing for all of it.
            while len(batch) < MAX_BATCH and cast(int, socket.getsockopt(zmq.EVENTS)) & zmq.POLLIN:
                batch.append(await socket.recv_multipart())
            now = loop.time()
            for topic_and_payload in batch:
                self._apply(topic_and_payload, now)
            self._reprice(loop)

    def _apply(self, frames: list[bytes], now: float) -> None:
        try:
            if len(frames) != 2:
                raise DecodeError(f"{len(frames)} frames, expected 2")
            message = decode(frames[1])
        except DecodeError as error:
            self.decode_errors += 1
            held = self._decode_log.held_back_if_due()
            if held is not None:
                log.warning("dropped an undecodable message (%d more since): %s", held, error)
            return
        self.rates.apply(message, now)
        if isinstance(message, Tick):
            if message.replay:
                self.replays += 1
            else:
                key = (message.source, message.instrument)
                self.received[key] = self.received.get(key, 0) + 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("tick %s %s %s", message.source, message.instrument, message.price)
            for sink in self.tick_sinks:
                sink(message)

    def _reprice(self, loop: asyncio.AbstractEventLoop) -> None:
        self.rates.reprice(loop.time())
        if self._reprice_timer is not None:
            self._reprice_timer.cancel()
            self._reprice_timer = None
        if self.rates.valid_until != float("inf"):
            # A hair late rather than early: at valid_until exactly the course is already stale.
            self._reprice_timer = loop.call_at(self.rates.valid_until + 0.001, self._reprice, loop)

    async def _monitor(self) -> None:
        monitor = self._monitor_socket
        try:
            while True:
                event = parse_monitor_message(await monitor.recv_multipart())
                endpoint = event["endpoint"].decode()
                if event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                    self.connected.add(endpoint)
                    log.info("subscribed through %s", endpoint)
                else:
                    self.connected.discard(endpoint)
                    log.warning("lost forwarder %s", endpoint)
        except zmq.ZMQError:
            return  # the socket was closed under us: stopping
