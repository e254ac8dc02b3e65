"""The HTTP server settings of every replica (and of the benchmark's reference app)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn


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
