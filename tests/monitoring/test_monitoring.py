"""The monitoring files: generated from code, accepted by Prometheus's own checker."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from launcher.stack import StackSettings, prometheus_config
from monitoring.dashboards import DASHBOARDS, OUTPUT, rendered

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "monitoring" / "prometheus"


def test_dashboard_files_are_what_the_code_renders():
    files = {path.name: path.read_text() for path in OUTPUT.glob("*.json")}
    assert files == rendered(), "run `python -m monitoring.dashboards`"


def test_the_four_dashboards_cover_what_an_operator_needs():
    titles = {d.uid: [p.title for p in d.panels] for d in DASHBOARDS}
    assert set(titles) == {"rates-service", "rates-freshness", "rates-ingest", "rates-persistence"}
    model = json.loads(rendered()["rates-service.json"])
    assert all(target["expr"] for panel in model["panels"] for target in panel["targets"])


def test_the_native_prometheus_file_is_what_the_launcher_writes():
    assert (PROMETHEUS / "native.yml").read_text() == prometheus_config(
        StackSettings(_env_file=None)
    )


@pytest.mark.parametrize("name", ["native.yml", "compose.yml"])
def test_promtool_accepts_the_configuration(name):
    result = subprocess.run(
        ["promtool", "check", "config", str(PROMETHEUS / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
