"""An injected delay, to make one replica a slow one (a gray failure) on purpose.

Installed only when ``GATEWAY_FAULT_INJECTION`` is true (tests, benchmarks, drills): then
every request but the control route's own waits the delay before it is handled, the health
checks' ``/readyz`` included, as on a replica starved of CPU. The control route,
``PUT /_control/delay`` with ``{"milliseconds": N}`` (0 ends it), answers only clients on the
replica's own host (loopback), and HAProxy's public frontend never passes ``/_control``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from dataclasses import dataclass

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

CONTROL_PATH = "/_control/delay"
#: The longest delay accepted: long enough to outlast any timeout of HAProxy's.
MAX_DELAY_MS = 60_000


@dataclass
class Delay:
    """The delay every request waits, set through the control route."""

    milliseconds: int = 0


class InjectedDelay:
    """ASGI middleware: wait ``delay`` before handling each HTTP request."""

    def __init__(self, app: ASGIApp, delay: Delay) -> None:
        self.app = app
        self.delay = delay

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = self.delay.milliseconds
        if wait and scope["type"] == "http" and scope["path"] != CONTROL_PATH:
            await asyncio.sleep(wait / 1000)
        await self.app(scope, receive, send)


def is_loopback(host: str | None) -> bool:
    """``host`` (a client's address) is this machine's loopback."""
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_delay(body: object) -> int | str:
    """The delay asked for in a control request's JSON body, or what is wrong with it."""
    value = body.get("milliseconds") if isinstance(body, dict) else None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_DELAY_MS:
        return f'expected {{"milliseconds": 0..{MAX_DELAY_MS}}}'
    return value


def install_fault_injection(app: FastAPI) -> None:
    """Wrap ``app`` in an :class:`InjectedDelay` and add its control route."""
    delay = Delay()
    # Added last, so outermost: the delay comes before anything else done for the request.
    app.add_middleware(InjectedDelay, delay=delay)

    async def control(request: Request) -> JSONResponse:
        if not is_loopback(request.client.host if request.client else None):
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        if request.method == "PUT":
            try:
                asked = parse_delay(await request.json())
            except ValueError:
                asked = parse_delay(None)
            if isinstance(asked, str):
                return JSONResponse({"detail": asked}, status_code=422)
            delay.milliseconds = asked
            log.warning("injected delay set to %d ms per request", asked)
        return JSONResponse({"milliseconds": delay.milliseconds})

    app.add_route(CONTROL_PATH, control, methods=["GET", "PUT"], include_in_schema=False)
