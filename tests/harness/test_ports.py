"""The harness's ports: read back what a process bound, refuse, pick, retry."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from harness.ports import (
    PortTaken,
    listening_ports,
    port_open,
    refusing_port,
    retry_taken_ports,
    unused_port,
)


def test_the_ports_a_process_listens_on_are_read_back() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        assert port in listening_ports(os.getpid())
        with socket.socket() as bound_only:
            bound_only.bind(("127.0.0.1", 0))
            assert bound_only.getsockname()[1] not in listening_ports(os.getpid())
    assert port not in listening_ports(os.getpid())


def test_a_refusing_port_refuses_and_cannot_be_taken() -> None:
    with refusing_port() as port:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        with pytest.raises(OSError), socket.create_server(("127.0.0.1", port)):
            pass
        assert not port_open(port)


def test_an_unused_port_is_bindable_and_outside_the_ephemeral_range() -> None:
    text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text(encoding="ascii")
    low, high = (int(n) for n in text.split())
    for _ in range(20):
        port = unused_port()
        assert not low <= port <= high
        with socket.create_server(("127.0.0.1", port)):
            pass


def test_a_start_is_retried_while_its_port_is_taken() -> None:
    attempts: list[int] = []

    def start() -> str:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise PortTaken(len(attempts))
        return "started"

    assert retry_taken_ports(start) == "started"
    assert len(attempts) == 3

    def always_taken() -> str:
        raise PortTaken(1)

    with pytest.raises(PortTaken):
        retry_taken_ports(always_taken, attempts=2)
