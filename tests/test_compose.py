"""``compose.yaml``, ``compose.sim.yaml`` and the ``Dockerfile``, read without an engine: the
Compose schema, the same commands and variables as the native launcher, one build of one
image, secrets that need no ``.env``, nothing but the API published beyond 127.0.0.1.
(tests/docker runs the same files on a real engine.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from launcher.secretfiles import SECRETS
from launcher.stack import DEMO, RUN, StackSettings, haproxy, programs
from tests.test_env_sample import documented

ROOT = Path(__file__).resolve().parent.parent
TEXTS = {name: (ROOT / name).read_text() for name in ("compose.yaml", "compose.sim.yaml")}
COMPOSE = yaml.safe_load(TEXTS["compose.yaml"])
SIM = yaml.safe_load(TEXTS["compose.sim.yaml"])
SCHEMA = json.loads((ROOT / "tests/schemas/compose-spec.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(SCHEMA)


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` applied to ``base`` as Compose applies a second file: mappings merged key
    by key, anything else replaced."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


LIVE = COMPOSE["services"]
SIMULATED = merged(COMPOSE, SIM)["services"]
IMAGE = LIVE["secrets"]["image"]
#: Services running the project's image, in each variant.
PYTHON_LIVE = sorted(name for name, spec in LIVE.items() if spec.get("image") == IMAGE)
PYTHON_SIM = sorted(name for name, spec in SIMULATED.items() if spec.get("image") == IMAGE)

#: Variables both deployments read from .env rather than from the process table.
FROM_DOTENV = {"LOG_LEVEL", "LOG_FORMAT"}
#: Variables only the compose deployment sets, and why: the feeder's optional API key comes
#: from .env; the gateways read the generated password from a file and drain when stopped.
COMPOSE_ONLY = {
    "feeder-coingecko": {"COINGECKO_API_KEY"},
    "gateway": {"DATABASE_PASSWORD_FILE", "GATEWAY_DRAIN_SECONDS"},
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_compose_files_are_valid_against_the_compose_schema(name):
    VALIDATOR.validate(yaml.safe_load(TEXTS[name]))


def test_the_schema_check_can_fail():
    broken = {"services": {"gateway": {"image": "x", "ports": "8080", "restart": 7}}}
    assert len(list(VALIDATOR.iter_errors(broken))) >= 2


def defaults() -> StackSettings:
    """The native stack's settings as documented, whatever a developer's .env says."""
    return StackSettings(_env_file=None)  # type: ignore[call-arg]


def native_twin(service: str, mode: str):
    """The native program a compose service stands for."""
    name = "gateway-1" if service == "gateway" else service
    stack = programs(mode, defaults(), {"DATABASE_URL": "postgres://..."})
    return next(program for program in stack if program.name == name)


def test_every_role_is_in_compose_once():
    for mode, services in ((RUN, PYTHON_LIVE), (DEMO, PYTHON_SIM)):
        native = {p.name for p in programs(mode, defaults())}
        replicas = {name for name in native if name.startswith("gateway-")}
        assert set(services) == native - replicas | {"gateway", "secrets"}, mode
    assert {"postgres", "dbmate", "haproxy", "prometheus", "grafana"} <= set(LIVE)


@pytest.mark.parametrize(
    "mode, service",
    [(RUN, name) for name in PYTHON_LIVE if name != "secrets"]
    + [(DEMO, name) for name in PYTHON_SIM if name != "secrets"],
)
def test_commands_and_variables_match_the_native_launcher(mode, service):
    spec = (SIMULATED if mode == DEMO else LIVE)[service]
    twin = native_twin(service, mode)
    assert spec["command"] == ["python", "-m", *twin.module]
    expected = set(twin.environment) | FROM_DOTENV | COMPOSE_ONLY.get(service, set())
    assert set(spec["environment"]) == expected


def test_the_simulator_variant_points_the_same_feeders_at_it():
    assert "simulator" not in LIVE and set(SIMULATED) == set(LIVE) | {"simulator"}
    for name in ("feeder-binance-ws", "feeder-binance-rest", "feeder-coingecko"):
        live, simulated = LIVE[name]["environment"], SIMULATED[name]["environment"]
        assert not any("simulator" in str(value) for value in live.values())
        assert all("simulator" in simulated[key] for key in ("BINANCE_WS_URLS", "COINGECKO_URL"))
        assert "simulator" in SIMULATED[name]["depends_on"]
    line = "COMPOSE_FILE=compose.yaml:compose.sim.yaml"
    assert f"# {line}" in (ROOT / ".env.sample").read_text()
    assert line in TEXTS["compose.sim.yaml"] and line in TEXTS["compose.yaml"]


def test_one_service_builds_the_one_image_the_others_run():
    builders = [name for name, spec in SIMULATED.items() if "build" in spec]
    assert builders == ["secrets"]
    for name in PYTHON_SIM:
        assert SIMULATED[name]["pull_policy"] == "never", name  # ours, never a registry's


def test_haproxy_matches_the_native_launcher():
    spec = LIVE["haproxy"]
    twin = haproxy(defaults(), "backend.cfg", "password", metrics=True)
    # The stats password comes from its secret file (with-secret); the replicas' container
    # names are compose's own.
    assert set(spec["environment"]) | {"HAPROXY_STATS_PASSWORD"} == set(twin.environment) | {
        "GATEWAY_NAME_PREFIX"
    }
    wrapper, command = spec["command"][:4], spec["command"][4:]
    assert wrapper == [
        "sh",
        "/usr/local/bin/with-secret",
        "HAPROXY_STATS_PASSWORD",
        "/run/secrets/haproxy/stats_password",
    ]
    assert [Path(arg).name for arg in command] == [Path(arg).name for arg in twin.command()][
        :-1
    ] + ["gateways-compose.cfg"]


def test_no_variable_is_required_and_no_secret_has_a_default():
    """`docker compose up` needs no .env: nothing is `${VAR:?}`, and a secret left unset is
    passed empty to the secrets service, which makes one up."""
    for name, text in TEXTS.items():
        assert ":?" not in text, name
    for secret in SECRETS:
        assert f"${{{secret.variable}:-}}" in TEXTS["compose.yaml"]
        assert re.findall(rf"\${{{secret.variable}\b[^}}]*}}", TEXTS["compose.yaml"]) == [
            f"${{{secret.variable}:-}}"
        ]


def test_each_secret_is_mounted_only_where_it_is_used():
    users = {
        "secrets-postgres": {"secrets", "postgres", "dbmate", "gateway", "grafana"},
        "secrets-haproxy": {"secrets", "haproxy"},
        "secrets-grafana": {"secrets", "grafana"},
    }
    for volume, services in users.items():
        mounting = {
            name
            for name, spec in SIMULATED.items()
            if any(str(v).startswith(f"{volume}:") for v in spec.get("volumes", []))
        }
        assert mounting == services, volume
        for name in services - {"secrets"}:
            depends = SIMULATED[name]["depends_on"]["secrets"]
            assert depends["condition"] == "service_completed_successfully", name
    # The files the services read are the ones launcher.secretfiles writes.
    text = TEXTS["compose.yaml"]
    for secret in SECRETS:
        assert f"/run/secrets/{secret.path}" in text, secret.path


def test_nothing_but_the_api_is_published_beyond_loopback():
    for name, spec in SIMULATED.items():
        for port in spec.get("ports", []):
            if port == "${PUBLISH_API:-8080}:8080":
                assert name == "haproxy"
            else:
                assert port.startswith("127.0.0.1:"), (name, port)
    assert not any("8405" in port for port in LIVE["haproxy"]["ports"])  # the exporter


def test_every_variable_compose_reads_is_documented():
    for name, text in TEXTS.items():
        interpolated = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", text))
        interpolated -= {"COMPOSE_PROJECT_NAME"}  # Compose's own: the project's name
        assert interpolated - set(documented()) == set(), name
    for name in PYTHON_SIM:
        assert set(SIMULATED[name]["environment"]) - set(documented()) == set(), name


def test_prometheus_and_grafana_are_provisioned_from_files():
    assert "./monitoring/prometheus/compose.yml:/etc/prometheus/prometheus.yml:ro" in (
        LIVE["prometheus"]["volumes"]
    )
    # Beside the configuration, which names it relative to itself.
    assert "./monitoring/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in (
        LIVE["prometheus"]["volumes"]
    )
    grafana = LIVE["grafana"]["volumes"]
    assert "./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro" in grafana
    assert "./monitoring/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana
    prometheus = yaml.safe_load((ROOT / "monitoring/prometheus/compose.yml").read_text())
    haproxy_job = next(job for job in prometheus["scrape_configs"] if job["job_name"] == "haproxy")
    assert haproxy_job["static_configs"][0]["targets"] == ["haproxy:8405"]
    assert prometheus["rule_files"] == ["alerts.yml"]


def test_gateways_scale_drain_and_wait_for_the_migrations():
    gateway = LIVE["gateway"]
    assert "ports" not in gateway and "container_name" not in gateway  # --scale gateway=N
    assert gateway["depends_on"]["dbmate"]["condition"] == "service_completed_successfully"
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])
    assert float(gateway["environment"]["GATEWAY_DRAIN_SECONDS"]) > 0
    assert LIVE["dbmate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # A dependency with `restart: true` would stop HAProxy whenever the replicas change.
    for spec in SIMULATED.values():
        for dependency in spec.get("depends_on", {}).values():
            assert not dependency.get("restart", False)


def test_long_running_services_restart_and_are_health_checked():
    unchecked = {"haproxy", "grafana", "locust"}  # no check runs in image and stand-in alike
    for name, spec in SIMULATED.items():
        if name in {"secrets", "dbmate"} or "profiles" in spec:
            continue
        assert spec["restart"] == "unless-stopped", name
        assert ("healthcheck" in spec) == (name not in unchecked), name


def test_images_are_pinned():
    for name, spec in SIMULATED.items():
        if spec.get("image") != IMAGE:
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


def test_the_build_context_is_what_the_image_copies():
    copied = set(re.findall(r"^COPY (\w+) /app/\w+$", DOCKERFILE, re.MULTILINE))
    allowed = {
        line[1:] for line in (ROOT / ".dockerignore").read_text().splitlines() if line[:1] == "!"
    }
    assert copied and copied | {"pyproject.toml", "constraints.txt"} == allowed
    assert copied >= {"common", "feeder", "forwarder", "gateway", "launcher", "simulator"}
