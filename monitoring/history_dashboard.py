"""The history dashboard: a direction's served value over time, read from PostgreSQL (Grafana's
"History" datasource, ``monitoring/grafana/provisioning/datasources/history.yml``), from the
same candles the API's ``/api/v1/courses/history`` answers from.

Grafana cannot run here; a test expands the panel's macros as Grafana does and runs its SQL
against a real, migrated PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

from gateway.recipes import DIRECTIONS

UID = "rates-history"
DATASOURCE = {"type": "grafana-postgresql-datasource", "uid": "history"}

#: Minute candles' closes while Grafana's interval is under an hour, hour candles' beyond:
#: a month on screen reads 720 rows per direction, not 43,200.
PRICE_SQL = """SELECT c.bucket AS "time", d.name AS metric, c.close AS value
FROM candles_1m c JOIN directions d ON d.id = c.direction
WHERE $__timeFilter(c.bucket) AND d.name IN ($direction) AND $__interval_ms < 3600000
UNION ALL
SELECT c.bucket AS "time", d.name AS metric, c.close AS value
FROM candles_1h c JOIN directions d ON d.id = c.direction
WHERE $__timeFilter(c.bucket) AND d.name IN ($direction) AND $__interval_ms >= 3600000
ORDER BY 1"""

#: Which exchanger served the direction, per minute: where failovers happened.
SOURCE_SQL = """SELECT c.bucket AS "time", e.name AS metric, 1 AS value
FROM candles_1m c
JOIN directions d ON d.id = c.direction JOIN exchangers e ON e.id = c.exchanger
WHERE $__timeFilter(c.bucket) AND d.name IN ($direction)
ORDER BY 1"""

PANELS = (
    ("Served value", PRICE_SQL, "The close of each candle of the direction's served value."),
    ("Serving exchanger", SOURCE_SQL, "The exchanger of each minute's close."),
)


def _panel(number: int, title: str, sql: str, description: str) -> dict[str, Any]:
    return {
        "id": number + 1,
        "type": "timeseries",
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 10 if number == 0 else 6, "w": 24, "x": 0, "y": number * 10},
        "fieldConfig": {"defaults": {"unit": "short"}, "overrides": []},
        "options": {},
        "targets": [
            {
                "refId": "A",
                "datasource": DATASOURCE,
                "editorMode": "code",
                "format": "time_series",
                "rawQuery": True,
                "rawSql": sql,
            }
        ],
    }


def dashboard_json() -> dict[str, Any]:
    """The Grafana JSON model of the history dashboard."""
    return {
        "uid": UID,
        "title": "Rates: history",
        "description": "What the API served, from PostgreSQL: a direction's value over time.",
        "tags": ["rates"],
        "timezone": "utc",
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "templating": {
            "list": [
                {
                    "name": "direction",
                    "label": "Direction",
                    "type": "custom",
                    "query": ",".join(DIRECTIONS),
                    "current": {"text": "BTC-RUB", "value": "BTC-RUB"},
                    "options": [
                        {"text": name, "value": name, "selected": name == "BTC-RUB"}
                        for name in DIRECTIONS
                    ],
                    "multi": False,
                }
            ]
        },
        "panels": [_panel(number, *panel) for number, panel in enumerate(PANELS)],
    }


def rendered() -> dict[str, str]:
    """File name -> JSON text."""
    return {f"{UID}.json": json.dumps(dashboard_json(), indent=2) + "\n"}
