"""pipelines/polling.wait_until on a fake clock: no test here sleeps."""

from __future__ import annotations

import pytest

from pipelines.polling import WaitTimeout, wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_returns_the_first_value_that_is_done_probing_at_once_then_at_the_interval() -> None:
    clock, statuses = FakeClock(), iter(["RUNNING", "RUNNING", "SUCCEEDED", "never read"])
    assert wait_until(lambda: next(statuses), lambda s: s == "SUCCEEDED", what="x", timeout_seconds=10,
                      interval_seconds=0.5, sleep=clock.sleep, clock=clock) == "SUCCEEDED"
    assert clock.slept == [0.5, 0.5]


def test_backs_off_up_to_the_cap() -> None:
    clock, calls = FakeClock(), iter(range(7))
    assert wait_until(lambda: next(calls), lambda n: n == 6, what="x", timeout_seconds=None, interval_seconds=0.01,
                      backoff=2.0, max_interval_seconds=0.05, sleep=clock.sleep, clock=clock) == 6
    assert clock.slept == pytest.approx([0.01, 0.02, 0.04, 0.05, 0.05, 0.05])


def test_a_timeout_names_what_was_awaited_and_how_it_last_looked() -> None:
    clock = FakeClock()
    with pytest.raises(WaitTimeout, match=r"^stack lakehouse-dev-main: still UPDATE_IN_PROGRESS after 3 s$") as raised:
        wait_until(lambda: {"StackStatus": "UPDATE_IN_PROGRESS"}, lambda d: False, what="stack lakehouse-dev-main",
                   timeout_seconds=3, interval_seconds=1, describe=lambda d: d["StackStatus"],
                   sleep=clock.sleep, clock=clock)
    assert raised.value.last == {"StackStatus": "UPDATE_IN_PROGRESS"}
    assert isinstance(raised.value, TimeoutError) and clock.now == pytest.approx(4)


def test_errors_of_the_probe_propagate_and_bad_settings_are_refused() -> None:
    def broken() -> str:
        raise ConnectionError("endpoint down")

    with pytest.raises(ConnectionError, match="endpoint down"):
        wait_until(broken, bool, what="x", timeout_seconds=1, interval_seconds=1)
    with pytest.raises(ValueError, match="waiting for the probe: interval_seconds must be > 0"):
        wait_until(lambda: 1, bool, what="the probe", timeout_seconds=1, interval_seconds=0)
