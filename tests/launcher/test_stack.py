"""The launcher's process table and supervisord configuration, without starting anything."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

import launcher.__main__ as launcher_main
from launcher.stack import (
    DEMO,
    FEEDERS_RUNNING,
    GATEWAYS_READY,
    RUN,
    SCHEMA_APPLIED,
    SIMULATOR_LISTENING,
    Program,
    StackSettings,
    database_for,
    haproxy,
    programs,
    stop_order,
)
from launcher.supervisor import Supervisord, render


def test_demo_points_every_feeder_at_the_simulator():
    stack = {p.name: p for p in programs(DEMO, StackSettings())}
    assert list(stack) == [
        "simulator",
        "forwarder-1",
        "forwarder-2",
        "feeder-binance-ws",
        "feeder-binance-rest",
        "feeder-coingecko",
        "gateway-1",
        "gateway-2",
    ]
    ws = stack["feeder-binance-ws"].environment
    assert ws["BINANCE_WS_URLS"] == "ws://127.0.0.1:9443,ws://127.0.0.1:9444"
    assert ws["ZMQ_PUB_ENDPOINTS"] == "tcp://127.0.0.1:5555,tcp://127.0.0.1:5557"
    assert stack["gateway-2"].environment["GATEWAY_PORT"] == "8002"
    assert stack["gateway-1"].environment["ZMQ_SUB_ENDPOINTS"] == (
        "tcp://127.0.0.1:5556,tcp://127.0.0.1:5558"
    )


def test_run_uses_the_real_exchanges():
    stack = programs(RUN, StackSettings())
    assert "simulator" not in {p.name for p in stack}
    assert all("BINANCE_WS_URLS" not in p.environment for p in stack)


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        programs("prod", StackSettings())


def test_supervisord_config_restarts_and_names_every_process(tmp_path: Path):
    config = _config(programs(DEMO, StackSettings()), tmp_path)
    sections = [s for s in config.sections() if s.startswith("program:")]
    assert len(sections) == 8
    gateway = config["program:gateway-1"]
    assert gateway["command"] == "/venv/bin/python -m gateway"
    assert gateway["autorestart"] == "true"
    assert gateway["stdout_logfile"] == "/dev/stdout"
    assert 'SERVICE_NAME="gateway-1"' in gateway["environment"]
    assert config["supervisord"]["nodaemon"] == "true"


def _config(stack: list[Program], tmp_path: Path) -> configparser.RawConfigParser:
    supervisord = Supervisord(tmp_path, "someone", "secret")
    config = configparser.RawConfigParser()
    config.read_string(render(stack, supervisord, Path("/repo"), "/venv/bin/python"))
    return config


def test_supervisord_runs_quietly_as_its_user_behind_a_password(tmp_path: Path):
    config = _config(programs(DEMO, StackSettings()), tmp_path)
    # Naming its own user spares the CRIT line about running as root; in the foreground it
    # prints its lines itself, so a log file on stdout would print each twice.
    assert config["supervisord"]["user"] == "someone"
    assert config["supervisord"]["logfile"] == "/dev/null"
    for section in ("unix_http_server", "supervisorctl"):
        assert config[section]["username"] == "launcher"
        assert config[section]["password"] == "secret"


def test_a_program_runs_where_its_user_can_enter(tmp_path: Path):
    postgres = Program("postgres", argv=("postgres",), user="postgres", directory="/tmp/pg")
    config = _config([postgres, *programs(DEMO, StackSettings())], tmp_path)
    assert config["program:postgres"]["directory"] == "/tmp/pg"
    assert config["program:postgres"]["user"] == "postgres"
    assert config["program:gateway-1"]["directory"] == "/repo"


def test_what_waits_for_what():
    demo = {p.name: p for p in programs(DEMO, StackSettings())}
    assert demo["simulator"].autostart and demo["forwarder-1"].autostart
    assert demo["feeder-coingecko"].start_after == (SIMULATOR_LISTENING,)
    assert demo["gateway-2"].start_after == (SCHEMA_APPLIED, FEEDERS_RUNNING)
    assert haproxy(StackSettings(), "backend.cfg", "password").start_after == (GATEWAYS_READY,)
    # Against the real exchanges the feeders wait for nothing.
    assert all(p.autostart for p in programs(RUN, StackSettings()) if p.name.startswith("feeder"))


def test_programs_stop_in_the_reverse_order_those_of_one_priority_together():
    stack = [
        Program("postgres", priority=5),
        *programs(DEMO, StackSettings()),
        haproxy(StackSettings(), "backend.cfg", "password"),
    ]
    assert stop_order(stack) == [
        ["haproxy"],
        ["gateway-1", "gateway-2"],
        ["feeder-binance-ws", "feeder-binance-rest", "feeder-coingecko"],
        ["forwarder-1", "forwarder-2"],
        ["simulator"],
        ["postgres"],
    ]


def test_the_simulators_prices_have_their_own_database():
    url = "postgres://rates:secret@db:5432/rates?sslmode=disable"
    assert database_for(RUN, url) == url
    assert database_for(DEMO, url) == "postgres://rates:secret@db:5432/rates_sim?sslmode=disable"
    assert database_for(DEMO, "postgres://u@h/") == "postgres://u@h/postgres_sim"


def test_a_demo_on_a_given_server_stores_in_its_sim_database(tmp_path: Path):
    settings = StackSettings.model_validate({"DATABASE_URL": "postgres://rates@db:5432/rates"})
    # pylint: disable-next=protected-access
    demo_url, programs_run, gateway_env = launcher_main._database(DEMO, settings, tmp_path)
    assert demo_url == "postgres://rates@db:5432/rates_sim" == gateway_env["DATABASE_URL"]
    assert not programs_run
    # pylint: disable-next=protected-access
    assert launcher_main._database(RUN, settings, tmp_path)[0].endswith("/rates")
