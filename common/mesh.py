"""ZeroMQ sockets onto the mesh: every publisher and subscriber connects to every forwarder.

With two forwarders a tick travels two ways; the gateway keeps the newest and ignores the copy,
so losing one forwarder costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

import zmq

#: A blocking socket (``zmq.Context``) or an asyncio one (``zmq.asyncio.Context``).
SocketT = TypeVar("SocketT", bound="zmq.Socket[Any]")

#: Bounded queues everywhere: a slow peer drops messages rather than growing memory.
HIGH_WATER_MARK = 10_000


def _tune(socket: zmq.Socket[Any]) -> None:
    socket.setsockopt(zmq.LINGER, 0)
    # Rejoin a restarted forwarder within a second rather than the default backoff.
    socket.setsockopt(zmq.RECONNECT_IVL, 100)
    socket.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    # ZMTP heartbeats notice a forwarder that vanished without closing its TCP connections.
    socket.setsockopt(zmq.HEARTBEAT_IVL, 1000)
    socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, 3000)


def pub_socket(context: zmq.Context[SocketT], endpoints: Iterable[str]) -> SocketT:
    """A PUB socket connected to every forwarder's XSUB endpoint."""
    socket = context.socket(zmq.PUB)
    _tune(socket)
    socket.setsockopt(zmq.SNDHWM, HIGH_WATER_MARK)
    # Queue only for forwarders that are really connected, so a dead one holds no backlog.
    socket.setsockopt(zmq.IMMEDIATE, 1)
    for endpoint in endpoints:
        socket.connect(endpoint)
    return socket


def sub_socket(
    context: zmq.Context[SocketT],
    endpoints: Iterable[str],
    prefixes: Iterable[bytes] = (b"",),
) -> SocketT:
    """A SUB socket connected to every forwarder's XPUB endpoint, subscribed to ``prefixes``."""
    socket = context.socket(zmq.SUB)
    _tune(socket)
    socket.setsockopt(zmq.RCVHWM, HIGH_WATER_MARK)
    for prefix in prefixes:
        socket.setsockopt(zmq.SUBSCRIBE, prefix)
    for endpoint in endpoints:
        socket.connect(endpoint)
    return socket
