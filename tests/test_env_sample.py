"""``.env.sample`` documents every variable any process reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from feeder.settings import FeederSettings
from forwarder.settings import ForwarderSettings
from gateway.settings import GatewaySettings
from launcher.stack import StackSettings
from simulator.settings import SimulatorSettings

SAMPLE = Path(__file__).resolve().parent.parent / ".env.sample"
SETTINGS = [FeederSettings, ForwarderSettings, GatewaySettings, SimulatorSettings, StackSettings]


def variables(cls: type[BaseSettings]) -> dict[str, object]:
    """The environment variable of every field of ``cls``, with its default."""
    prefix = cls.model_config.get("env_prefix", "")
    names: dict[str, object] = {}
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            env = str(alias.choices[0])
        elif isinstance(alias, str):
            env = alias
        else:
            env = f"{prefix}{name}".upper()
        names[env] = field.default
    return names


def documented() -> dict[str, str]:
    lines = SAMPLE.read_text().splitlines()
    return {
        match[1]: match[2]
        for line in lines
        if (match := re.fullmatch(r"#? ?([A-Z][A-Z0-9_]+)=(.*)", line.strip()))
    }


@pytest.mark.parametrize("cls", SETTINGS, ids=lambda cls: cls.__name__)
def test_every_variable_is_documented(cls):
    missing = set(variables(cls)) - set(documented())
    assert not missing, f"add to .env.sample: {sorted(missing)}"


def test_documented_defaults_are_the_real_ones():
    sample = documented()
    for cls in SETTINGS:
        for env, default in variables(cls).items():
            if default is None or env.startswith("STACK_"):
                continue
            shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
            assert sample[env] == shown, env


#: Read by Docker Compose itself, or by the tests: no settings class of ours.
OTHERS = {
    "COMPOSE_FILE",
    "COMPOSE_PROFILES",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
    "POSTGRES_DB",
    "GRAFANA_ADMIN_USER",
    "GRAFANA_ADMIN_PASSWORD",
    "LOADTEST_USER_RPS",
    "LOADTEST_STREAMERS",
    "PUBLISH_API",
    "PUBLISH_STATS_PORT",
    "PUBLISH_PROMETHEUS_PORT",
    "PUBLISH_GRAFANA_PORT",
    "PUBLISH_SIM_CONTROL_PORT",
    "PUBLISH_LOCUST_PORT",
    "RATEWIRE_IMAGE",
}


def test_nothing_documented_is_unknown():
    known = set().union(*(variables(cls) for cls in SETTINGS)) | OTHERS | {"TEST_DATABASE_URL"}
    assert set(documented()) - known == set()
