from __future__ import annotations

import pytest

from common.backoff import Backoff, SlidingWindowLimit


def test_delays_double_up_to_the_cap_with_equal_jitter():
    top = Backoff(base=0.5, cap=4.0, rand=lambda: 1.0)
    assert [top.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    bottom = Backoff(base=0.5, cap=4.0, rand=lambda: 0.0)
    assert [bottom.next_delay() for _ in range(5)] == [0.25, 0.5, 1.0, 2.0, 2.0]


def test_jitter_stays_within_half_to_full_ceiling():
    backoff = Backoff(base=1.0, cap=8.0)
    for _ in range(200):
        ceiling = backoff.ceiling()
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling


def test_reset_starts_over():
    backoff = Backoff(base=0.5, cap=30.0, rand=lambda: 1.0)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_many_failures_never_overflow():
    backoff = Backoff(base=0.5, cap=30.0, rand=lambda: 1.0)
    for _ in range(5000):
        delay = backoff.next_delay()
    assert delay == 30.0


@pytest.mark.parametrize("base,cap,factor", [(0, 1, 2), (2, 1, 2), (1, 2, 0.5)])
def test_nonsense_is_refused(base, cap, factor):
    with pytest.raises(ValueError):
        Backoff(base=base, cap=cap, factor=factor)


def test_sliding_window_limit_slides():
    limit = SlidingWindowLimit(limit=3, window=10.0)
    for now in (0.0, 1.0, 2.0):
        assert limit.acquire(now) == 0.0
    assert limit.count(5.0) == 3
    assert limit.acquire(5.0) == pytest.approx(5.0)
    assert limit.count(5.0) == 3  # a refused event is not counted
    assert limit.wait_time(10.0) == 0.0
    assert limit.acquire(10.0) == 0.0
    assert limit.wait_time(10.5) == pytest.approx(0.5)
    assert limit.count(12.0) == 1
