"""A feeder's Prometheus metrics, read from its ``FeedHealth`` at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from common.metrics import counter, gauge
from feeder.health import FeedHealth


class FeederCollector(Collector):
    """``feeder_*`` metrics, labelled with the transport."""

    def __init__(self, health: FeedHealth) -> None:
        self.health = health

    def _counter(self, name: str, doc: str, value: float) -> CounterMetricFamily:
        return counter(name, doc, value, transport=self.health.transport)

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        return gauge(name, doc, value, transport=self.health.transport)

    def collect(self) -> Iterator[Metric]:
        health = self.health
        yield self._counter("feeder_messages", "Good exchange messages read.", health.messages)
        yield self._counter("feeder_ticks_published", "Ticks published.", health.ticks)
        yield self._counter(
            "feeder_malformed_messages",
            "Malformed or unknown exchange messages dropped.",
            health.malformed,
        )
        yield self._counter("feeder_stalls", "Streams found silent by the watchdog.", health.stalls)
        yield self._counter(
            "feeder_rate_limited", "429 or 418 answers honoured.", health.rate_limited
        )
        reconnects = CounterMetricFamily(
            "feeder_reconnects", "Connections replaced, by reason.", labels=["transport", "reason"]
        )
        for reason, count in sorted(health.reconnect_reasons.items()):
            reconnects.add_metric([health.transport, reason], count)
        yield reconnects
        yield self._gauge(
            "feeder_connected", "1 while the exchange connection is up.", int(health.connected)
        )
        age = health.last_message_age()
        if age is not None:
            yield self._gauge(
                "feeder_last_message_age_seconds", "Since the last good exchange message.", age
            )
