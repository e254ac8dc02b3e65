"""Ports for child processes, without a window in which someone else may take them.

``free_port()`` (bind 0, read the port, close, hand it to a child) is a race: between the close
and the child's bind any process may take the port, and an outgoing connection may use it as
its source port. Instead:

* a child that can bind port 0 does, and the harness reads back what it bound
  (:func:`listening_ports` of its pid, or the start line it logs);
* a child that cannot (the demo stack under supervisord, whose ports are written into HAProxy's
  and the feeders' configuration before anything starts; PostgreSQL; HAProxy) gets ports from
  :func:`unused_port`, picked outside the kernel's ephemeral range, where neither a port-0 bind
  nor an outgoing connection can land, and the harness starts it again on new ports when it
  says its address is in use (:class:`PortTaken`, :func:`retry_taken_ports`);
* a port that must refuse connections is held bound and never listened on
  (:func:`refusing_port`): connections to it are refused and nobody else can take it.
"""

from __future__ import annotations

import contextlib
import random
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from launcher.gates import accepts_connections

T = TypeVar("T")

#: How every program we start says it could not bind (Python, uvicorn, HAProxy, PostgreSQL,
#: Prometheus, libzmq): errno 98's message, in one case or another.
ADDRESS_IN_USE = re.compile(r"address already in use", re.IGNORECASE)
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's "st" column


class PortTaken(Exception):
    """A child could not bind a port the harness gave it: start it again on others."""


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Something accepts connections on ``host:port``."""
    return accepts_connections(host, port)


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process ``pid`` listens on, from its sockets in ``/proc``."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = fd.readlink().name
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/net/{table}").read_text(encoding="ascii").splitlines()[1:]:
                fields = line.split()
                if fields[3] == _LISTEN and fields[9] in inodes:
                    ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (
            Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii").split()
        )
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def unused_port(host: str = "127.0.0.1") -> int:
    """A port nothing is bound to now, below the ephemeral range (or above it when the range
    starts too low); still a check, so whoever uses it must retry on :class:`PortTaken`."""
    low, high = _ephemeral_range()
    candidates = range(10_000, low) if low > 12_000 else range(high + 1, 65_536)
    for _ in range(100):
        port = random.choice(candidates)
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
            return port
    raise OSError(f"no unused port found in {candidates}")


@contextlib.contextmanager
def refusing_port(host: str = "127.0.0.1") -> Iterator[int]:
    """A port that refuses connections for as long as the block runs: bound, never listened
    on, so no other process can start listening there meanwhile."""
    with socket.socket() as held:
        held.bind((host, 0))
        yield held.getsockname()[1]


def retry_taken_ports(start: Callable[[], T], attempts: int = 5) -> T:
    """``start()`` until it does not raise :class:`PortTaken` (it picks new ports each time)."""
    for attempt in range(1, attempts + 1):
        try:
            return start()
        except PortTaken:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")
