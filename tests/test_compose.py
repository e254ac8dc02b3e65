"""``compose.yaml`` and the ``Dockerfile``, checked without a Docker engine: the Compose schema,
the same commands and variables as the native launcher, every variable documented."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from launcher.stack import DEMO, RUN, StackSettings, haproxy, programs
from tests.test_env_sample import documented

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (ROOT / "compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
SCHEMA = json.loads((ROOT / "tests/schemas/compose-spec.json").read_text())

#: Variables both deployments read from .env rather than from the process table.
FROM_DOTENV = {"LOG_LEVEL", "LOG_FORMAT"}
FROM_DOTENV_BY_SERVICE = {"feeder-coingecko": {"COINGECKO_API_KEY"}}


VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def test_compose_file_is_valid_against_the_compose_schema():
    VALIDATOR.validate(COMPOSE)


def test_the_schema_check_can_fail():
    broken = {"services": {"gateway": {"image": "x", "ports": "8080", "restart": 7}}}
    assert len(list(VALIDATOR.iter_errors(broken))) >= 2


def native_twin(service: str):
    """The native program a compose service stands for."""
    mode = DEMO if service.endswith("-sim") or service == "simulator" else RUN
    name = service.removesuffix("-sim")
    name = "gateway-1" if name == "gateway" else name
    stack = programs(mode, StackSettings(), {"DATABASE_URL": "postgres://..."})
    return next(program for program in stack if program.name == name)


PYTHON_SERVICES = sorted(name for name, spec in SERVICES.items() if "build" in spec)


def test_every_role_is_in_compose():
    native = {p.name for mode in (DEMO, RUN) for p in programs(mode, StackSettings())}
    replicas = {name for name in native if name.startswith("gateway-")}
    simulated_feeders = {f"{name}-sim" for name in native if name.startswith("feeder-")}
    assert set(PYTHON_SERVICES) == native - replicas | {"gateway"} | simulated_feeders
    assert {"postgres", "dbmate", "haproxy", "prometheus", "grafana"} <= set(SERVICES)


@pytest.mark.parametrize("service", PYTHON_SERVICES)
def test_commands_and_variables_match_the_native_launcher(service):
    spec = SERVICES[service]
    twin = native_twin(service)
    assert spec["command"] == ["python", "-m", *twin.module]
    expected = set(twin.environment) | FROM_DOTENV | FROM_DOTENV_BY_SERVICE.get(service, set())
    assert set(spec["environment"]) == expected


def test_haproxy_matches_the_native_launcher():
    spec = SERVICES["haproxy"]
    twin = haproxy(StackSettings(), "backend.cfg", "password")
    assert set(spec["environment"]) == set(twin.environment)
    assert [Path(arg).name for arg in spec["command"]] == [
        Path(arg).name for arg in twin.command()
    ][:-1] + ["gateways-compose.cfg"]


def test_every_variable_compose_reads_is_documented():
    interpolated = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", COMPOSE_TEXT))
    assert interpolated - set(documented()) == set()
    for name in PYTHON_SERVICES:
        assert set(SERVICES[name]["environment"]) - set(documented()) == set(), name


def test_secrets_are_required_not_defaulted():
    for secret in ("POSTGRES_PASSWORD", "HAPROXY_STATS_PASSWORD", "GRAFANA_ADMIN_PASSWORD"):
        assert "${%s:?" % secret in COMPOSE_TEXT


def test_prometheus_and_grafana_are_provisioned_from_files():
    assert "./monitoring/prometheus/compose.yml:/etc/prometheus/prometheus.yml:ro" in (
        SERVICES["prometheus"]["volumes"]
    )
    grafana = SERVICES["grafana"]["volumes"]
    assert "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana


def test_gateways_scale_and_wait_for_the_migrations():
    gateway = SERVICES["gateway"]
    assert "ports" not in gateway and "container_name" not in gateway  # --scale gateway=N
    assert gateway["depends_on"]["dbmate"]["condition"] == "service_completed_successfully"
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])
    backend = (ROOT / "haproxy/gateways-compose.cfg").read_text()
    assert "server-template gateway" in backend and "resolvers docker" in backend
    assert SERVICES["dbmate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_images_are_pinned():
    for name, spec in SERVICES.items():
        if "image" in spec and "build" not in spec:
            assert re.search(r":v?\d+\.\d+(\.\d+)?", spec["image"]), name


DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_the_image_is_multi_stage_pinned_and_runs_as_a_user():
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?", DOCKERFILE, re.MULTILINE)
    assert len(stages) >= 2
    assert re.search(r"ARG PYTHON_IMAGE=python:\d+\.\d+\.\d+-slim", DOCKERFILE)
    final = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    assert re.search(r"^USER app$", final, re.MULTILINE)
    assert "COPY --from=build /opt/venv /opt/venv" in final
    for tool in ("gcc", "build-essential", "apt-get install", "pip install"):
        assert tool not in final
