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


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *arguments], capture_output=True, text=True, check=False, cwd=ROOT
    )


def test_promtool_accepts_the_alerting_rules_and_both_configurations_load_them():
    checked = promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert checked.returncode == 0 and "SUCCESS: 1 rules found" in checked.stdout, checked.stderr
    for name in ("native.yml", "compose.yml"):
        loaded = promtool("check", "config", str(PROMETHEUS / name))
        assert "1 rule files found" in loaded.stdout, loaded.stdout + loaded.stderr


def test_the_dispute_alert_fires_after_fifteen_seconds_of_a_dispute():
    """``promtool test rules`` on tests/monitoring/alerts_test.yml: the alert's timing,
    labels and text against series of a dispute on one replica, and of a brief one."""
    tested = promtool("test", "rules", str(Path(__file__).parent / "alerts_test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
