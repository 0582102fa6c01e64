"""PhaseClock: the per-phase seconds a job report carries."""

from __future__ import annotations

import pytest

from jobs import phase_clock
from jobs.phase_clock import PhaseClock


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock_time(monkeypatch):
    fake = FakeMonotonic()
    monkeypatch.setattr(phase_clock.time, "monotonic", fake)
    return fake


def test_phases_are_reported_in_the_order_they_ran_and_total_counts_the_gaps(clock_time):
    clock = PhaseClock()
    clock_time.now += 0.5  # before the first phase
    with clock.phase("split"):
        clock_time.now += 2.25
    with clock.phase("write"):
        clock_time.now += 1.0
    clock_time.now += 0.25
    assert clock.seconds() == {"split": 2.25, "write": 1.0, "total": 4.0}


def test_a_phase_that_runs_twice_adds_up(clock_time):
    clock = PhaseClock()
    for _ in range(2):
        with clock.phase("gate"):
            clock_time.now += 1.5
    assert clock.seconds()["gate"] == 3.0


def test_a_phase_that_fails_is_still_timed(clock_time):
    clock = PhaseClock()
    with pytest.raises(ValueError), clock.phase("write"):
        clock_time.now += 0.75
        raise ValueError("disk full")
    assert clock.seconds() == {"write": 0.75, "total": 0.75}
