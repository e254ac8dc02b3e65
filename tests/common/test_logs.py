from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from common.logs import Throttle, setup_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """setup_logging is process-wide: put back what the test process had (pytest's capture
    handlers, levels), or later tests log into this test's closed stdout."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    noisy = {
        name: logging.getLogger(name).level
        for name in ("websockets", "httpx", "httpcore", "asyncio")
    }
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)


def test_text_lines_carry_level_and_service(capsys):
    setup_logging("INFO", json_lines=False, service="feeder-ws")
    logging.getLogger("some.module").warning("stalled after %d s", 3)
    logging.getLogger("some.module").debug("not shown")
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert "WARNING" in out[0] and "[feeder-ws]" in out[0] and "stalled after 3 s" in out[0]


def test_json_lines(capsys):
    setup_logging("DEBUG", json_lines=True, service="gateway-1")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("gw").exception("failed")
    entry = json.loads(capsys.readouterr().out.strip())
    assert entry["level"] == "ERROR"
    assert entry["service"] == "gateway-1"
    assert entry["logger"] == "gw"
    assert entry["message"] == "failed"
    assert "RuntimeError: boom" in entry["exc"]
    assert entry["ts"].endswith("Z")


def test_throttle_counts_what_it_holds_back():
    now = [0.0]
    throttle = Throttle(10.0, clock=lambda: now[0])
    assert throttle.held_back_if_due() == 0
    assert throttle.held_back_if_due() is None
    assert throttle.held_back_if_due() is None
    now[0] = 10.0
    assert throttle.held_back_if_due() == 2
