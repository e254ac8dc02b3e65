"""A replica told to stop drains first (GATEWAY_DRAIN_SECONDS): /readyz says so, so HAProxy
takes it out of rotation, while it keeps answering; then it stops."""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from harness.procs import ProcessGroup, wait_for
from harness.stack import start_forwarder, start_gateway

pytestmark = pytest.mark.live


def readiness(url: str) -> tuple[int, str]:
    response = httpx.get(f"{url}/readyz", timeout=2)
    return response.status_code, response.json()["reason"]


def test_a_stopped_replica_drains_then_stops(procs: ProcessGroup):
    forwarder = start_forwarder(procs)
    gateway = start_gateway(procs, [forwarder], GATEWAY_DRAIN_SECONDS="2")
    asked = time.monotonic()
    gateway.process.signal(signal.SIGTERM)
    wait_for(lambda: readiness(gateway.url) == (503, "shutting down"), 2, what="draining")
    assert httpx.get(f"{gateway.url}/healthz", timeout=2).status_code == 200  # still serving
    assert gateway.process.popen.wait(15) == 0
    stopped = time.monotonic() - asked
    print(f"drained and stopped {stopped:.2f} s after SIGTERM")
    assert 2 <= stopped < 2 + 8


def test_a_second_signal_stops_it_at_once(procs: ProcessGroup):
    forwarder = start_forwarder(procs)
    gateway = start_gateway(procs, [forwarder], GATEWAY_DRAIN_SECONDS="60")
    gateway.process.signal(signal.SIGTERM)
    wait_for(lambda: readiness(gateway.url) == (503, "shutting down"), 2, what="draining")
    gateway.process.signal(signal.SIGTERM)
    gateway.process.popen.wait(10)  # long before the 60 s drain ends


def test_without_a_drain_it_stops_at_once(procs: ProcessGroup):
    forwarder = start_forwarder(procs)
    gateway = start_gateway(procs, [forwarder])
    asked = time.monotonic()
    gateway.process.signal(signal.SIGTERM)
    gateway.process.popen.wait(10)
    assert time.monotonic() - asked < 5
