from __future__ import annotations

import pytest

from simulator.limits import RollingLimit, WeightBudget


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_weight_budget_spends_up_to_the_limit_in_a_minute():
    clock = Clock(1_000_000_040.0)  # 20 s into a minute
    budget = WeightBudget(10, 60.0, clock)
    assert [budget.charge(4).used for _ in range(2)] == [4, 8]
    refused = budget.charge(4)
    assert not refused.allowed
    assert refused.used == 8  # a refused request costs nothing
    assert refused.retry_after == 40  # until the minute turns
    fits = budget.charge(2)
    assert fits.allowed and fits.used == 10
    clock.now += 39.5
    assert budget.charge(1).retry_after == 1
    clock.now += 0.5  # the next minute
    assert budget.used() == 0
    assert budget.charge(4).used == 4


def test_rolling_limit_counts_the_last_window():
    clock = Clock(50.0)
    limit = RollingLimit(3, 60.0, clock)
    assert [limit.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.acquire() == pytest.approx(60.0)
    clock.now += 59.0
    assert limit.acquire() == pytest.approx(1.0)
    assert limit.count() == 3
    clock.now += 1.0
    assert limit.acquire() == 0.0
    assert limit.count() == 1


def test_rolling_limit_over_a_second():
    clock = Clock(0.0)
    limit = RollingLimit(5, 1.0, clock)
    for _ in range(5):
        assert limit.acquire() == 0.0
        clock.now += 0.1
    assert limit.acquire() > 0  # the sixth message within a second
    clock.now = 1.01
    assert limit.acquire() == 0.0


@pytest.mark.parametrize("factory", [lambda: WeightBudget(0), lambda: RollingLimit(1, 0)])
def test_limits_refuse_nonsense(factory):
    with pytest.raises(ValueError):
        factory()
