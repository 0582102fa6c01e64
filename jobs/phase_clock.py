"""Wall-clock seconds per phase of a job, for its report.

Spark is lazy: a phase is charged for the Spark jobs its own actions trigger. In bronze_to_silver,
for example, the bronze parse runs inside the first action (the split's counts), so "split" includes
it. The figures say which phase got slow, not what each transformation costs on its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class PhaseClock:
    """Times named phases in the order they run; `seconds()` adds their total."""

    def __init__(self) -> None:
        self._started = time.monotonic()
        self._phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self._phases[name] = self._phases.get(name, 0.0) + time.monotonic() - started

    def seconds(self) -> dict[str, float]:
        """Each phase's seconds (rounded to ms), then `total`: everything since the clock started,
        including the time between phases."""
        timings = {name: round(seconds, 3) for name, seconds in self._phases.items()}
        timings["total"] = round(time.monotonic() - self._started, 3)
        return timings
