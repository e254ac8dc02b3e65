"""The four Grafana dashboards, as data: ``python -m monitoring.dashboards`` writes them to
``monitoring/grafana/dashboards/`` (a test checks the files match this module).

Every panel is a PromQL expression over metrics the service exports; a live test runs each one
against a real Prometheus scraping the native stack and expects data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitoring import history_dashboard

OUTPUT = Path(__file__).resolve().parent / "grafana" / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
LATENCY = 'sum by (le) (rate(http_request_duration_seconds_bucket{{handler=~"{routes}"}}[1m]))'
COURSES = "/api/v1/courses|/courses"


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""


@dataclass(frozen=True)
class Panel:
    title: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: str = "timeseries"
    description: str = ""


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...] = field(default_factory=tuple)


def _quantile(q: float) -> Query:
    return Query(f"histogram_quantile({q}, {LATENCY.format(routes=COURSES)})", f"p{int(q * 100)}")


SERVICE = Dashboard(
    "rates-service",
    "Rates: service",
    "Requests, latency and status codes at the gateways and at HAProxy; the courses streams.",
    (
        Panel(
            "Requests/s by route (gateways)",
            (Query("sum by (handler) (rate(http_requests_total[1m]))", "{{handler}}"),),
            "reqps",
        ),
        Panel(
            "Courses latency (gateways)",
            (_quantile(0.5), _quantile(0.95), _quantile(0.99)),
            "s",
        ),
        Panel(
            "Status classes (gateways)",
            (Query("sum by (status) (rate(http_requests_total[1m]))", "{{status}}"),),
            "reqps",
        ),
        Panel(
            "Requests/s at HAProxy",
            (
                Query(
                    'sum(rate(haproxy_frontend_http_requests_total{proxy="api"}[1m]))', "requests"
                ),
                Query(
                    'sum(rate(haproxy_frontend_http_cache_hits_total{proxy="api"}[1m]))',
                    "cache hits",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Responses at HAProxy by code",
            (
                Query(
                    'sum by (code) (rate(haproxy_frontend_http_responses_total{proxy="api"}[1m]))',
                    "{{code}}",
                ),
            ),
            "reqps",
        ),
        Panel(
            "Response time per replica (HAProxy)",
            (
                Query(
                    "max by (server) "
                    '(haproxy_server_response_time_average_seconds{proxy="gateways"})',
                    "{{server}}",
                ),
            ),
            "s",
            description="Each replica's answers as HAProxy waits for them (average of its last "
            "1024): a slow replica stands out here before its health checks fail.",
        ),
        Panel(
            "Courses p99 per replica (gateways)",
            (
                Query(
                    "histogram_quantile(0.99, sum by (instance, le) (rate("
                    f'http_request_duration_seconds_bucket{{handler=~"{COURSES}"}}[1m])))',
                    "{{instance}}",
                ),
            ),
            "s",
            description="As each replica measures itself: a replica slow only here is busy; "
            "slow only at HAProxy, it is starved or frozen.",
        ),
        Panel(
            "Retries and failed checks per replica (HAProxy)",
            (
                Query(
                    "sum by (server) (rate(haproxy_server_retry_warnings_total"
                    '{proxy="gateways"}[1m]))',
                    "{{server}} retries",
                ),
                Query(
                    "sum by (server) (rate(haproxy_server_check_failures_total"
                    '{proxy="gateways"}[1m]))',
                    "{{server}} failed checks",
                ),
            ),
            "ops",
            description="Requests a replica did not answer in time (sent to another one) and "
            "health checks it failed: a hung replica.",
        ),
        Panel(
            "Gateway replicas up in HAProxy",
            (Query('haproxy_backend_active_servers{proxy="gateways"}', "up"),),
            kind="stat",
        ),
        Panel(
            "Retries and redispatches at HAProxy",
            (
                Query(
                    'sum(increase(haproxy_backend_retry_warnings_total{proxy="gateways"}[5m]))',
                    "retries",
                ),
                Query(
                    "sum(increase(haproxy_backend_redispatch_warnings_total"
                    '{proxy="gateways"}[5m]))',
                    "redispatches",
                ),
            ),
        ),
        Panel(
            "Courses streams open",
            (
                Query("sum by (instance) (rates_streams_open)", "{{instance}}"),
                Query(
                    'sum(haproxy_backend_current_sessions{proxy="gateway_streams"})',
                    "at HAProxy",
                ),
            ),
            description="GET /api/v1/courses/stream: per replica, and through HAProxy.",
        ),
        Panel(
            "Stream events sent/s",
            (
                Query(
                    "sum by (instance) (rate(rates_stream_events_sent_total[1m]))", "{{instance}}"
                ),
            ),
            "ops",
            description="One per client per change of its query's answer.",
        ),
        Panel(
            "Slow stream clients dropped (5 min)",
            (Query("sum(increase(rates_stream_slow_dropped_total[5m]))", "dropped"),),
            description="Clients whose unsent bytes passed GATEWAY_STREAM_BUFFER_LIMIT.",
        ),
    ),
)

FRESHNESS = Dashboard(
    "rates-freshness",
    "Rates: freshness",
    "How old each direction's value is, which source serves it, failovers, and whether the "
    "sources agree.",
    (
        Panel(
            "Age of each direction's value",
            (Query("max by (direction) (rates_direction_age_seconds)", "{{direction}}"),),
            "s",
            description="From the exchange time of the oldest price behind the value.",
        ),
        Panel(
            "Serving source",
            (
                Query(
                    "max by (direction, exchanger) (rates_direction_source) == 1",
                    "{{direction}}: {{exchanger}}",
                ),
            ),
        ),
        Panel(
            "Directions served stale",
            (Query("sum(max by (direction) (rates_direction_stale))", "stale"),),
            kind="stat",
        ),
        Panel(
            "Source switches (5 min)",
            (
                Query(
                    "sum by (from, to) (increase(rates_source_switches_total[5m]))",
                    "{{from}} -> {{to}}",
                ),
            ),
        ),
        Panel(
            "Deviation between the sources",
            (
                Query("max by (direction) (rates_direction_deviation)", "{{direction}}"),
                Query("max(rates_guard_max_deviation)", "threshold"),
                Query("-max(rates_guard_max_deviation)", "-threshold"),
            ),
            "percentunit",
            description="The served value relative to the other source's fresh value "
            "(served / other - 1). Beyond the threshold (GUARD_MAX_DEVIATION) the direction "
            "is disputed.",
        ),
        Panel(
            "Directions disputed",
            (Query("sum(max by (direction) (rates_direction_disputed))", "disputed"),),
            kind="stat",
            description="Directions whose two sources disagree beyond the guard's threshold.",
        ),
        Panel(
            "Sources up",
            (Query("min by (source) (rates_source_up)", "{{source}}"),),
            kind="stat",
        ),
        Panel(
            "Feeders connected to their exchange",
            (Query("max by (transport) (feeder_connected)", "{{transport}}"),),
            kind="stat",
        ),
    ),
)

INGEST = Dashboard(
    "rates-ingest",
    "Rates: ingest",
    "Ticks from the exchanges to the gateways: rates, reconnects, 429s, the mesh.",
    (
        Panel(
            "Ticks/s received by the gateways, per source",
            (Query("sum by (source) (rate(rates_ticks_received_total[1m]))", "{{source}}"),),
            "ops",
        ),
        Panel(
            "Exchange messages/s, per feeder",
            (Query("sum by (transport) (rate(feeder_messages_total[1m]))", "{{transport}}"),),
            "ops",
        ),
        Panel(
            "Since the last exchange message",
            (Query("max by (transport) (feeder_last_message_age_seconds)", "{{transport}}"),),
            "s",
        ),
        Panel(
            "Reconnects (5 min)",
            (
                Query(
                    "sum by (transport, reason) (increase(feeder_reconnects_total[5m]))",
                    "{{transport}} {{reason}}",
                ),
            ),
        ),
        Panel(
            "Stalls and 429s (5 min)",
            (
                Query(
                    "sum by (transport) (increase(feeder_stalls_total[5m]))", "stalls {{transport}}"
                ),
                Query(
                    "sum by (transport) (increase(feeder_rate_limited_total[5m]))",
                    "429 {{transport}}",
                ),
            ),
        ),
        Panel(
            "Messages/s through the forwarders",
            (Query("sum by (instance, kind) (rate(forwarder_messages_total[1m]))", "{{kind}}"),),
            "ops",
        ),
        Panel(
            "Dropped: malformed at feeders, undecodable at gateways (5 min)",
            (
                Query("sum(increase(feeder_malformed_messages_total[5m]))", "feeders"),
                Query("sum(increase(rates_decode_errors_total[5m]))", "gateways"),
            ),
        ),
    ),
)

PERSISTENCE = Dashboard(
    "rates-persistence",
    "Rates: persistence",
    "The gateways' batched writers: lag, batches, flush latency, retries and drops.",
    (
        Panel(
            "Writer lag",
            (Query("max(rates_writer_lag_seconds)", "oldest tick not stored"),),
            "s",
        ),
        Panel(
            "Ticks waiting to be stored",
            (Query("sum by (instance) (rates_writer_pending)", "{{instance}}"),),
        ),
        Panel(
            "Rows stored/s",
            (Query("sum(rate(rates_writer_stored_total[1m]))", "rows"),),
            "ops",
        ),
        Panel(
            "Batch size",
            (
                Query(
                    "sum(rate(rates_writer_batch_size_sum[5m]))"
                    " / sum(rate(rates_writer_batch_size_count[5m]))",
                    "mean",
                ),
            ),
        ),
        Panel(
            "Flush latency p99",
            (
                Query(
                    "histogram_quantile(0.99, sum by (le) "
                    "(rate(rates_writer_flush_seconds_bucket[5m])))",
                    "p99",
                ),
            ),
            "s",
        ),
        Panel(
            "Retries and drops (5 min)",
            (
                Query("sum(increase(rates_writer_retries_total[5m]))", "retries"),
                Query("sum(increase(rates_writer_dropped_total[5m]))", "dropped"),
                Query("sum(increase(rates_writer_refused_total[5m]))", "refused by the database"),
            ),
        ),
        Panel(
            "Warm start",
            (Query("max(rates_warm_start_seconds)", "duration"),),
            "s",
            kind="stat",
        ),
    ),
)

DASHBOARDS = (SERVICE, FRESHNESS, INGEST, PERSISTENCE)


def _panel_json(panel: Panel, number: int) -> dict[str, Any]:
    width = 12
    return {
        "id": number + 1,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": width, "x": (number % 2) * width, "y": (number // 2) * 8},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": chr(ord("A") + index),
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
            }
            for index, query in enumerate(panel.queries)
        ],
    }


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    """The Grafana JSON model of ``dashboard``."""
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["rates"],
        "timezone": "utc",
        "refresh": "5s",
        "time": {"from": "now-15m", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "panels": [_panel_json(panel, number) for number, panel in enumerate(dashboard.panels)],
    }


def rendered() -> dict[str, str]:
    """File name -> JSON text, for every dashboard (the PostgreSQL one too)."""
    return {
        **{
            f"{dashboard.uid}.json": json.dumps(dashboard_json(dashboard), indent=2) + "\n"
            for dashboard in DASHBOARDS
        },
        **history_dashboard.rendered(),
    }


def main() -> None:
    """Write the dashboards' files."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (OUTPUT / name).write_text(text)
        print(OUTPUT / name)


if __name__ == "__main__":
    main()
