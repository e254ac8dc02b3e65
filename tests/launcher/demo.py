"""What the launcher's live tests ask of a running demo stack."""

from __future__ import annotations

import httpx

from harness.stack import Demo


def stored(demo: Demo) -> int:
    """Ticks the stack's gateways stored (both write every tick; the first one stores it)."""
    return sum(
        httpx.get(f"http://127.0.0.1:{port}/api/v1/sources").json()["writer"]["stored"]
        for port in demo.gateway_ports
    )
