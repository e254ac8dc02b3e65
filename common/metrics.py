"""Serving a process's Prometheus metrics over HTTP, from a registry of its own.

Every process builds its own ``CollectorRegistry`` (no module-level default registry), so tests
can build several in one interpreter. Collectors read the process's own counters at scrape
time: the hot paths keep plain integers and never touch Prometheus objects.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> None:
    """Expose ``registry`` on ``http://host:port/metrics`` from a daemon thread (port 0: off)."""
    if port == 0:
        return
    start_http_server(port, addr=host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, port)
