"""The gateway's Prometheus metrics on ``/metrics``: HTTP and domain, from a registry of its own.

* HTTP, by prometheus-fastapi-instrumentator in its leanest useful form: a request counter and
  a latency histogram per route, method and status class; no request or response sizes, no
  in-progress gauge, and nothing for ``/metrics``, ``/healthz``, ``/readyz`` or unknown paths.
* Domain, read at scrape time from the gateway's own state (the hot paths keep plain integers):
  ticks by source and instrument, each direction's age, serving source, staleness, deviation
  between the sources and dispute (with the guard's threshold and a count of disputes), source
  switches, sources and feeders up, decode errors, the writer's queue, lag, batches, flush
  latency, retries and drops, and the warm start.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from prometheus_fastapi_instrumentator import Instrumentator, metrics
from starlette.requests import Request
from starlette.responses import Response

from common.metrics import counter, gauge
from common.wire import now_ms
from gateway.recipes import DIRECTIONS, EXCHANGERS
from gateway.streams import StreamHub
from gateway.view import ReplicaView

#: The service answers in milliseconds; the tail up to a second is what matters.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
UNINSTRUMENTED = ["/metrics", "/healthz", "/readyz"]


def instrument_http(app: FastAPI, registry: CollectorRegistry) -> None:
    """Count and time requests per route, method and status class."""
    instrumentator = Instrumentator(
        should_group_status_codes=True,
        should_ignore_untemplated=True,
        excluded_handlers=UNINSTRUMENTED,
        registry=registry,
    )
    # Every route is a GET: the method label would only cost a lookup per request. Status
    # classes on the count; the latency per route.
    instrumentator.add(
        metrics.requests(should_include_method=False, registry=registry),
        metrics.latency(
            should_include_method=False,
            should_include_status=False,
            buckets=LATENCY_BUCKETS,
            registry=registry,
        ),
    )
    instrumentator.instrument(app)


def install_metrics_route(app: FastAPI, registry: CollectorRegistry) -> None:
    async def metrics_endpoint(_request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)


class WriterHistograms:
    """Batch sizes and flush latencies, observed by the writer after every batch."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.batch_size = Histogram(
            "rates_writer_batch_size",
            "Ticks per stored batch.",
            buckets=(1, 10, 100, 1000, 5000, 20000),
            registry=registry,
        )
        self.flush_seconds = Histogram(
            "rates_writer_flush_seconds",
            "Time to store one batch.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=registry,
        )

    def observe(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.flush_seconds.observe(seconds)


class GatewayCollector(Collector):
    """Every domain metric, read from one gateway when scraped."""

    def __init__(self, gateway: ReplicaView) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        yield from self._mesh()
        yield from self._directions()
        yield from self._sources()
        yield from self._writer()
        gateway = self.gateway
        if gateway.warm_start_seconds is not None:
            yield gauge(
                "rates_warm_start_seconds",
                "How long loading the stored ticks took.",
                gateway.warm_start_seconds,
            )
        yield gauge("rates_ready", "1 while /readyz answers 200.", int(gateway.ready()[0]))

    def _mesh(self) -> Iterator[Metric]:
        subscriber = self.gateway.subscriber
        if subscriber is None:
            return
        ticks = CounterMetricFamily(
            "rates_ticks_received",
            "Live ticks received, by source and instrument.",
            labels=["source", "instrument"],
        )
        for (source, instrument), count in sorted(subscriber.received.items()):
            ticks.add_metric([source, instrument], count)
        yield ticks
        yield counter("rates_tick_replays_received", "Feeders' replays.", subscriber.replays)
        yield counter(
            "rates_decode_errors", "Mesh messages dropped undecodable.", subscriber.decode_errors
        )
        yield counter("rates_messages_received", "Mesh messages.", self.gateway.rates.messages)
        yield gauge(
            "rates_forwarders_connected",
            "Forwarders subscribed through.",
            len(subscriber.connected),
        )

    def _directions(self) -> Iterator[Metric]:
        rates = self.gateway.rates
        courses = rates.pricings[None].courses
        now = now_ms()
        age = GaugeMetricFamily(
            "rates_direction_age_seconds",
            "Age of the value served, by its oldest leg's exchange time.",
            labels=["direction"],
        )
        serving = GaugeMetricFamily(
            "rates_direction_source",
            "1 for the source serving the direction.",
            labels=["direction", "exchanger"],
        )
        stale = GaugeMetricFamily(
            "rates_direction_stale", "1 while served stale.", labels=["direction"]
        )
        for direction, course in zip(DIRECTIONS, courses):
            if course is None:
                continue
            oldest = min((leg.at for leg in course.legs), default=course.updated_at)
            age.add_metric([direction], max(0.0, (now - oldest) / 1000))
            for exchanger in EXCHANGERS:
                serving.add_metric([direction, exchanger], int(course.exchanger == exchanger))
            stale.add_metric([direction], int(course.stale))
        yield from (age, serving, stale)
        yield from self._guard()
        switches = CounterMetricFamily(
            "rates_source_switches",
            "Changes of a direction's serving source (failovers, recoveries, losses).",
            labels=["direction", "from", "to"],
        )
        for (direction, old, new), count in sorted(rates.switches.items()):
            switches.add_metric([direction, old, new], count)
        yield switches

    def _guard(self) -> Iterator[Metric]:
        """Each direction's deviation between the sources and its dispute, from the guard."""
        rates = self.gateway.rates
        deviation = GaugeMetricFamily(
            "rates_direction_deviation",
            "The served value's deviation from the other source's fresh value (0.01 is 1 %); "
            "absent while only one source is fresh.",
            labels=["direction"],
        )
        disputed = GaugeMetricFamily(
            "rates_direction_disputed",
            "1 while the two sources disagree beyond GUARD_MAX_DEVIATION.",
            labels=["direction"],
        )
        for direction, course in zip(DIRECTIONS, rates.pricings[None].courses):
            if course is None:
                continue
            if course.deviation is not None:
                deviation.add_metric([direction], float(course.deviation))
            disputed.add_metric([direction], int(course.disputed))
        yield from (deviation, disputed)
        yield gauge(
            "rates_guard_max_deviation",
            "GUARD_MAX_DEVIATION: beyond it a direction is disputed.",
            float(rates.guard.max_deviation),
        )
        disputes = CounterMetricFamily(
            "rates_direction_disputes",
            "Times a direction became disputed.",
            labels=["direction"],
        )
        for direction, count in sorted(rates.disputes.items()):
            disputes.add_metric([direction], count)
        yield disputes

    def _sources(self) -> Iterator[Metric]:
        rates = self.gateway.rates
        up = GaugeMetricFamily(
            "rates_source_up", "1 while every instrument of the source is fresh.", labels=["source"]
        )
        for source in EXCHANGERS:
            up.add_metric([source], int(rates.source_up.get(source, False)))
        yield up
        feeders = GaugeMetricFamily(
            "rates_feeder_connected",
            "Each feeder's last heartbeat: connected to its exchange.",
            labels=["transport", "feeder_id"],
        )
        for status in rates.book.feeders.values():
            feeders.add_metric([status.transport, status.feeder_id], int(status.connected))
        yield feeders

    def _writer(self) -> Iterator[Metric]:
        writer = self.gateway.writer
        if writer is None:
            return
        stats = writer.stats
        yield gauge("rates_writer_pending", "Ticks given, not yet stored.", writer.pending)
        oldest = writer.oldest_pending_ms()
        lag = 0.0 if oldest is None else max(0.0, (now_ms() - oldest) / 1000)
        yield gauge("rates_writer_lag_seconds", "Age of the oldest tick not yet stored.", lag)
        yield counter("rates_writer_stored", "Rows inserted.", stats.stored)
        yield counter(
            "rates_writer_already_stored", "Sent but stored before.", stats.already_stored
        )
        yield counter("rates_writer_copies_skipped", "Copies never buffered.", stats.copies_skipped)
        yield counter("rates_writer_retries", "Failed attempts to store.", stats.retries)
        yield counter("rates_writer_dropped", "Ticks lost past the buffer.", stats.dropped)
        yield counter(
            "rates_writer_refused",
            "Ticks the database refused (bad values), dropped.",
            stats.refused,
        )


class StreamCollector(Collector):
    """The courses streams: open, events sent, slow clients dropped."""

    def __init__(self, hub: StreamHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        yield gauge("rates_streams_open", "Courses streams open.", hub.open_streams)
        yield counter("rates_streams_opened", "Courses streams opened.", hub.opened)
        yield counter(
            "rates_stream_events_sent", "Events written to stream clients.", hub.events_sent
        )
        yield counter(
            "rates_stream_slow_dropped",
            "Stream clients dropped: their unsent bytes passed the bound.",
            hub.slow_dropped,
        )
