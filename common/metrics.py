"""Serving a process's Prometheus metrics over HTTP, from a registry of its own.

Every process builds its own ``CollectorRegistry`` (no module-level default registry), so tests
can build several in one interpreter. Collectors read the process's own counters at scrape
time: the hot paths keep plain integers and never touch Prometheus objects.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

log = logging.getLogger(__name__)


def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> None:
    """Expose ``registry`` on ``http://host:port/metrics`` from a daemon thread (port 0: off)."""
    if port == 0:
        return
    start_http_server(port, addr=host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, port)


def counter(name: str, doc: str, value: float, **labels: str) -> CounterMetricFamily:
    """A counter with one sample, for a collector reading a plain integer at scrape time."""
    family = CounterMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def gauge(name: str, doc: str, value: float, **labels: str) -> GaugeMetricFamily:
    """A gauge with one sample, for a collector reading a value at scrape time."""
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family
