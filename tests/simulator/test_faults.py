from __future__ import annotations

from decimal import Decimal

import pytest

from common.markets import BINANCE_WS
from simulator.faults import COINGECKO, KINDS, TARGETS, FaultError, FaultRegistry


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(name="clock")
def clock_fixture() -> Clock:
    return Clock()


@pytest.fixture(name="registry")
def registry_fixture(clock: Clock) -> FaultRegistry:
    registry = FaultRegistry(clock)
    registry.ports[BINANCE_WS] = (9443, 9444)
    return registry


def test_a_fault_lasts_until_cleared(registry, clock):
    registry.inject("coingecko", "429")
    clock.now += 10_000
    fault = registry.active(COINGECKO)
    assert fault is not None and fault.name == "429"
    assert fault.remaining(clock.now) is None
    assert [f.name for f in registry.clear("coingecko")] == ["429"]
    assert registry.active(COINGECKO) is None


def test_a_fault_with_seconds_expires_by_itself(registry, clock):
    registry.inject("binance-rest", "stall", seconds=2.5)
    clock.now += 1.0
    assert registry.active("binance-rest").remaining(clock.now) == pytest.approx(1.5)
    assert registry.expire() == []
    clock.now += 1.5
    assert registry.active("binance-rest") is None
    expired = registry.expire()
    assert [(f.target, f.name) for f in expired] == [("binance-rest", "stall")]
    assert registry.expire() == []
    assert registry.faults() == []


def test_a_new_fault_replaces_the_old_one(registry):
    registry.inject("binance-ws", "stall")
    registry.inject("binance-ws", "drop", seconds=1)
    assert registry.active(BINANCE_WS).name == "drop"
    assert len(registry.faults()) == 1


def test_a_port_fault_wins_over_the_target_fault(registry):
    registry.inject("binance-ws", "malformed")
    registry.inject("binance-ws", "stall", port=9444)
    assert registry.active(BINANCE_WS, 9443).name == "malformed"
    assert registry.active(BINANCE_WS, 9444).name == "stall"
    registry.clear("binance-ws", port=9444)
    assert registry.active(BINANCE_WS, 9444).name == "malformed"


def test_clearing_a_target_clears_its_ports_too(registry):
    registry.inject("binance-ws", "stall", port=9443)
    registry.inject("binance-ws", "hang")
    registry.inject("coingecko", "5xx", status=502)
    cleared = registry.clear("binance-ws")
    assert sorted(f.scope for f in cleared) == ["binance-ws", "binance-ws:9443"]
    assert [f.target for f in registry.faults()] == ["coingecko"]
    assert registry.active(COINGECKO).status == 502
    registry.clear()
    assert registry.faults() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bybit", "stall"), "valid targets: binance-ws, binance-rest, coingecko"),
        (("coingecko", "explode"), "valid faults: stall, drop, refuse, malformed, 429, 5xx, hang"),
        (("coingecko", "shutdown"), "unknown fault 'shutdown' for coingecko"),
        (("coingecko", "stall", -1), "seconds must be positive"),
        (("binance-ws", "stall", None, 1234), "its ports: 9443, 9444"),
        (("binance-rest", "stall", None, 9443), "its ports: none"),
        (
            ("binance-rest", "5xx", None, None, 504),
            r"status 504 does not apply to 5xx \(5xx: 500, 502",
        ),
        (("binance-rest", "429", None, None, 503), "status 503 does not apply to 429"),
    ],
)
def test_invalid_injections_name_the_valid_choices(registry, args, message):
    with pytest.raises(FaultError, match=message):
        registry.inject(*args)
    assert registry.faults() == []


def test_clearing_an_unknown_target_is_an_error(registry):
    with pytest.raises(FaultError, match="valid targets"):
        registry.clear("kraken")


def test_the_next_expiry_is_the_soonest(registry, clock):
    assert registry.next_expiry() is None
    registry.inject("coingecko", "5xx", seconds=5)
    registry.inject("binance-rest", "stall", seconds=2)
    registry.inject("binance-ws", "hang")
    assert registry.next_expiry() == clock.now + 2


def test_every_fault_has_an_effect_and_applies_where_it_can():
    for kind in KINDS.values():
        flags = (kind.resets, kind.holds, kind.stalls, kind.malformed, kind.shuts_down, kind.skews)
        assert any(flags) or kind.status is not None, kind.name
        assert set(kind.targets) <= set(TARGETS)
    assert KINDS["shutdown"].targets == ("binance-ws",)


def test_a_skew_multiplies_every_price_or_the_named_ones(registry):
    registry.inject("binance-ws", "skew", percent=10)
    assert registry.factor(BINANCE_WS, "BTCUSDT", 9443) == Decimal("1.1")
    registry.inject("coingecko", "skew", percent=-2.5, instruments=("tether", "bitcoin.rub"))
    assert registry.factor(COINGECKO, "tether.usd") == Decimal("0.975")
    assert registry.factor(COINGECKO, "bitcoin.rub") == Decimal("0.975")
    assert registry.factor(COINGECKO, "bitcoin.usd") == 1
    assert registry.factor("binance-rest", "BTCUSDT") == 1  # no fault there
    registry.inject("binance-ws", "stall")
    assert registry.factor(BINANCE_WS, "BTCUSDT") == 1  # a stall replaced the skew


def test_a_skew_percent_is_exact():
    registry = FaultRegistry()
    assert registry.inject("coingecko", "skew", percent=10.1).percent == Decimal("10.1")


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("binance-rest", "skew"), {}, "skew needs a percent"),
        (("binance-rest", "skew"), {"percent": 0}, "skew needs a percent"),
        (("binance-rest", "skew"), {"percent": -100}, "skew needs a percent"),
        (("binance-rest", "stall"), {"percent": 5}, "apply to skew only"),
        (
            ("binance-rest", "skew"),
            {"percent": 5, "instruments": ("bitcoin",)},
            "unknown instruments \\['bitcoin'\\] for binance-rest; valid: BTCUSDT",
        ),
        (("coingecko", "skew"), {"percent": 5, "instruments": ("BTCUSDT",)}, "valid: bitcoin"),
    ],
)
def test_invalid_skews_name_the_valid_choices(registry, args, kwargs, message):
    with pytest.raises(FaultError, match=message):
        registry.inject(*args, **kwargs)
    assert registry.faults() == []
