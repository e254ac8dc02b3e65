"""The logging policy of common/logs.py, held by real processes and by the gateway's rates:
connection errors at ERROR, connects and startup at INFO, ticks at DEBUG, a source down or a
failover at WARNING, every source of a direction down at CRITICAL; the level from the
environment of each process."""

from __future__ import annotations

import json
import logging
import re

import pytest

from gateway.pricing import Budgets
from gateway.rates import Rates
from harness.procs import ProcessGroup, wait_for
from harness.stack import start_feeder, start_forwarder, start_sim
from tests.gateway.ticks import T0, binance_ticks, coingecko_ticks


def lines_at(output: str, level: str) -> list[str]:
    return [line for line in output.splitlines() if re.search(rf"\s{level}\s+\[", line)]


@pytest.mark.live
@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
def test_a_feeders_lines_follow_the_policy_at_the_level_it_is_given(
    procs: ProcessGroup, level, refused_port
):
    sim = start_sim(procs, SIM_TICK_INTERVAL="0.2")
    forwarder = start_forwarder(procs)
    dead = f"ws://127.0.0.1:{refused_port}"
    feeder = start_feeder(
        procs,
        "binance-ws",
        sim,
        [forwarder],
        LOG_LEVEL=level,
        BINANCE_WS_URLS=f"{dead},ws://127.0.0.1:{sim.ws_ports[0]}",
    )
    wait_for(lambda: "connected and receiving" in feeder.output(), 10, what="connected")
    wait_for(lambda: feeder.output().count("\n") > 8 or level == "INFO", 5, what="ticks logged")
    output = feeder.output()
    assert any("starting" in line for line in lines_at(output, "INFO"))
    assert any("connected and receiving" in line for line in lines_at(output, "INFO"))
    assert any("Connection refused" in line for line in lines_at(output, "ERROR"))
    ticks = [line for line in lines_at(output, "DEBUG") if " tick BTCUSDT " in line]
    assert bool(ticks) == (level == "DEBUG")
    assert all("[feeder-binance-ws]" in line for line in output.splitlines() if line.strip())


@pytest.mark.live
def test_json_lines_when_asked(procs: ProcessGroup):
    forwarder = procs.spawn(
        "forwarder",
        ["forwarder"],
        env={
            "LOG_FORMAT": "json",
            "FORWARDER_XSUB_BIND": "tcp://127.0.0.1:0",
            "FORWARDER_XPUB_BIND": "tcp://127.0.0.1:0",
        },
    )
    wait_for(lambda: "forwarding" in forwarder.output(), 10, what="started")
    entry = json.loads(forwarder.output().splitlines()[0])
    assert entry["level"] == "INFO" and entry["service"] == "forwarder"


def test_the_gateway_reports_failover_loss_and_recovery_at_their_levels(caplog):
    caplog.set_level(logging.DEBUG, logger="gateway.rates")
    rates = Rates(Budgets(live=4, slow=150, fiat=900))
    for message in binance_ticks() + coingecko_ticks(T0 - 30_000):
        rates.apply(message, 0.0)
    rates.reprice(0.0)
    rates.reprice(5.0)  # Binance silent past its budget
    rates.reprice(1000.0)  # CoinGecko too
    for message in binance_ticks(T0 + 10_000):
        rates.apply(message, 1000.5)
    rates.reprice(1000.5)
    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("INFO", "source binance up: every instrument fresh") in records
    assert ("WARNING", "source binance down: no sign of life within 4 s") in records
    assert any(level == "WARNING" and "failover for BTC-USD" in m for level, m in records)
    assert ("WARNING", "source coingecko down: no sign of life within 150 s") in records
    assert any(level == "CRITICAL" and "every source is down" in m for level, m in records)
    assert records[-1][0] == "INFO"  # back on Binance: a recovery is news, not a problem
