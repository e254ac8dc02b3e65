"""The launcher's process table and supervisord configuration, without starting anything."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from launcher.stack import DEMO, RUN, StackSettings, programs
from launcher.supervisor import render


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
    text = render(programs(DEMO, StackSettings()), tmp_path, Path("/repo"), "/venv/bin/python")
    config = configparser.RawConfigParser()
    config.read_string(text)
    sections = [s for s in config.sections() if s.startswith("program:")]
    assert len(sections) == 8
    gateway = config["program:gateway-1"]
    assert gateway["command"] == "/venv/bin/python -m gateway"
    assert gateway["autorestart"] == "true"
    assert gateway["stdout_logfile"] == "/dev/stdout"
    assert 'SERVICE_NAME="gateway-1"' in gateway["environment"]
    assert config["supervisord"]["nodaemon"] == "true"
