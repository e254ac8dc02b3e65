"""The HTTP server of every replica (and the settings of the benchmark's reference app)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

log = logging.getLogger(__name__)


def uvicorn_config(app: Callable[..., Any], host: str, port: int) -> uvicorn.Config:
    """uvloop and httptools; no access log (a log line per request would cost more than the
    request); logging left to the process's own setup."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=5,
        backlog=4096,
    )


class DrainingServer(uvicorn.Server):
    """uvicorn, which told to stop (SIGTERM, SIGINT) first drains for ``drain_seconds``:
    ``on_drain`` makes the replica unready, so the balancer's health checks take it out of
    rotation, while it keeps answering whatever still reaches it; then it stops as uvicorn
    does. A second signal stops it at once."""

    def __init__(
        self, config: uvicorn.Config, drain_seconds: float, on_drain: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.on_drain = on_drain
        self._drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.drain_seconds > 0 and self._drain_until is None:
            self._drain_until = time.monotonic() + self.drain_seconds
            self.on_drain()
            log.info("draining for %.1f s before stopping", self.drain_seconds)
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None and time.monotonic() >= self._drain_until:
            self.should_exit = True
        return await super().on_tick(counter)
