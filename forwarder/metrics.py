"""A forwarder's Prometheus metrics: what crossed it, by kind."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from forwarder.proxy import Forwarder


class ForwarderCollector(Collector):
    """``forwarder_messages_total{kind}`` and ``forwarder_bytes_total``."""

    def __init__(self, forwarder: Forwarder) -> None:
        self.forwarder = forwarder

    def collect(self) -> Iterator[Metric]:
        messages = CounterMetricFamily(
            "forwarder_messages", "Messages relayed, by kind.", labels=["kind"]
        )
        for kind in ("tick", "status", "subscription", "other"):
            messages.add_metric([kind], self.forwarder.counts.get(kind, 0))
        yield messages
        yield CounterMetricFamily(
            "forwarder_bytes", "Bytes relayed, all frames.", value=self.forwarder.bytes
        )
