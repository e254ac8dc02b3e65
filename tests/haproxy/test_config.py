"""HAProxy's configuration, checked by HAProxy itself, for both deployments."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from launcher.stack import GATEWAYS_POLICY, StackSettings, haproxy_backend

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "HAPROXY_HTTP_BIND": ":8080",
    "HAPROXY_STATS_BIND": ":8404",
    "HAPROXY_STATS_USER": "admin",
    "HAPROXY_STATS_PASSWORD": "secret",
    "HAPROXY_CACHE": "on",
    "GATEWAY_NAME_PREFIX": "ratewire-gateway-",
}
#: HAProxy's Prometheus exporter is configured only where Prometheus reads it.
WITH_EXPORTER = {"HAPROXY_METRICS_BIND": ":8405"}

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None, reason="run `make install`")


def check(*files: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``haproxy -c`` on ``files``, run from elsewhere: paths in them must not depend on it."""
    command = ["haproxy", "-c"]
    for file in files:
        command += ["-f", str(file)]
    return subprocess.run(
        command,
        env={**os.environ, **ENV, **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )


@pytest.mark.parametrize("env", [{}, WITH_EXPORTER], ids=["no exporter", "exporter"])
def test_the_compose_configuration_is_valid(env):
    result = check(ROOT / "haproxy/haproxy.cfg", ROOT / "haproxy/gateways-compose.cfg", env=env)
    assert result.returncode == 0, result.stderr
    assert "Configuration file is valid" in result.stdout + result.stderr
    assert "WARNING" not in result.stderr


@pytest.mark.parametrize("env", [{}, WITH_EXPORTER], ids=["no exporter", "exporter"])
def test_the_native_configuration_is_valid(tmp_path, env):
    backend = tmp_path / "gateways.cfg"
    backend.write_text(haproxy_backend(StackSettings()))
    result = check(ROOT / "haproxy/haproxy.cfg", backend, env=env)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr
    assert "server gateway-2 127.0.0.1:8002" in backend.read_text()


def _servers(config: str, backend: str) -> list[list[str]]:
    """The ``server`` lines of ``backend`` in ``config``, split into words."""
    section = config.split(f"\nbackend {backend}", 1)[1].split("\nbackend ", 1)[0]
    return [line.split() for line in section.splitlines() if line.strip().startswith("server")]


def test_compose_finds_each_replica_by_its_container_name():
    backend = (ROOT / "haproxy/gateways-compose.cfg").read_text()
    servers = _servers(backend, "gateways")
    assert [words[1] for words in servers] == [f"gateway-{n}" for n in range(1, 11)]
    assert [words[2] for words in servers] == [
        f'"${{GATEWAY_NAME_PREFIX}}{n}:8000"' for n in range(1, 11)
    ]
    # The stream port of the same replica, up and down with its checks.
    streams = _servers(backend, "gateway_streams from streams")
    assert [words[1:] for words in streams] == [
        [f"gateway-{n}", f'"${{GATEWAY_NAME_PREFIX}}{n}:8100"', "track", f"gateways/gateway-{n}"]
        for n in range(1, 11)
    ]


def test_the_native_stream_backend_tracks_each_replica():
    backend = haproxy_backend(StackSettings())
    streams = _servers(backend, "gateway_streams from streams")
    assert [words[1:] for words in streams] == [
        ["gateway-1", "127.0.0.1:8101", "track", "gateways/gateway-1"],
        ["gateway-2", "127.0.0.1:8102", "track", "gateways/gateway-2"],
    ]


def test_both_deployments_check_and_retry_the_replicas_alike():
    """Compose's backend repeats the native one's policy (launcher/stack.py says why), adding
    only Docker's DNS to the servers' defaults."""
    lines = [
        line.strip() for line in (ROOT / "haproxy/gateways-compose.cfg").read_text().splitlines()
    ]
    for policy in GATEWAYS_POLICY:
        assert any(
            line == policy or line.startswith(f"{policy} resolvers ") for line in lines
        ), policy
