"""HAProxy's configuration, checked by HAProxy itself, for both deployments."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from launcher.stack import StackSettings, haproxy_backend

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "HAPROXY_HTTP_BIND": ":8080",
    "HAPROXY_STATS_BIND": ":8404",
    "HAPROXY_STATS_USER": "admin",
    "HAPROXY_STATS_PASSWORD": "secret",
    "HAPROXY_CACHE": "on",
}

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="run `make install`")


def check(*files: Path) -> subprocess.CompletedProcess[str]:
    command = ["haproxy", "-c"]
    for file in files:
        command += ["-f", str(file)]
    return subprocess.run(
        command, env={**os.environ, **ENV}, capture_output=True, text=True, check=False
    )


def test_the_compose_configuration_is_valid():
    result = check(ROOT / "haproxy/haproxy.cfg", ROOT / "haproxy/gateways-compose.cfg")
    assert result.returncode == 0, result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr
    assert "WARNING" not in result.stderr


def test_the_native_configuration_is_valid(tmp_path):
    backend = tmp_path / "gateways.cfg"
    backend.write_text(haproxy_backend(StackSettings()))
    result = check(ROOT / "haproxy/haproxy.cfg", backend)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    assert "server gateway-2 127.0.0.1:8002" in backend.read_text()
