from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from common.lifecycle import STOP_SIGNALS, on_stop_signal


@pytest.fixture(name="fallback")
def _fallback():
    """Handlers that record the signals reaching them, so a signal the code under test fails to
    catch is seen (rather than ending the test run); the original handlers come back after."""
    reached: list[int] = []
    original = {
        signum: signal.signal(signum, lambda n, _f: reached.append(n)) for signum in STOP_SIGNALS
    }
    yield reached
    for signum, handler in original.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", STOP_SIGNALS)
def test_stop_signal_sets_a_threading_event(fallback, signum):
    stop = threading.Event()
    before = signal.getsignal(signum)
    with on_stop_signal(stop.set):
        os.kill(os.getpid(), signum)
        assert stop.wait(5)
    assert not fallback
    assert signal.getsignal(signum) is before


@pytest.mark.parametrize("signum", STOP_SIGNALS)
async def test_stop_signal_sets_an_event_in_the_loop(fallback, signum):
    stop = asyncio.Event()
    before = signal.getsignal(signum)
    with on_stop_signal(stop.set):
        os.kill(os.getpid(), signum)
        await asyncio.wait_for(stop.wait(), 5)
    assert not fallback
    assert signal.getsignal(signum) is before
    os.kill(os.getpid(), signum)  # after the block, the previous handling has it again
    await asyncio.sleep(0)
    assert fallback == [signum]
