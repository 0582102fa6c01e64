"""Values for the suites' `$PARAMETER`s: the gate's standard clock values, suite-declared date
offsets, and scalar run context (e.g. `previous_row_count`).

Standard parameters (always available):
- `now_utc`: the gate's clock, naive UTC (Spark timestamps are compared in the session's UTC);
- `latest_event_time`: `now_utc` plus a small allowance for source clocks running ahead, the
  latest event time that is not "in the future";
- `today_utc`, `run_date`: dates.
A suite may derive dates in `meta.parameters`, e.g. `{"latest_birth_date": {"years_before_today": 16}}`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

CLOCK_SKEW_ALLOWANCE = timedelta(minutes=10)
STANDARD_PARAMETERS = ("now_utc", "latest_event_time", "today_utc", "run_date")
DERIVED_UNITS = ("days_before_today", "years_before_today")


def validate_derived_parameters(derived: dict[str, Any]) -> None:
    for name, spec in derived.items():
        if name in STANDARD_PARAMETERS:
            raise ValueError(f"{name!r} is a standard parameter and cannot be redefined")
        if (not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in DERIVED_UNITS
                or not isinstance(next(iter(spec.values())), int)):
            raise ValueError(f"{name!r} must be one of {{unit: int}} with unit in {DERIVED_UNITS}, got {spec!r}")


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)


def derived_value(spec: dict[str, int], today: date) -> date:
    unit, amount = next(iter(spec.items()))
    if unit == "days_before_today":
        return today - timedelta(days=amount)
    return _years_before(today, amount)


def runtime_parameters(run_date: str, derived: dict[str, dict[str, int]], context: dict[str, Any],
                       now: datetime | None = None) -> dict[str, Any]:
    """Every parameter a suite may reference, for one gate call."""
    now_utc = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    today = now_utc.date()
    values: dict[str, Any] = {
        "now_utc": now_utc,
        "latest_event_time": now_utc + CLOCK_SKEW_ALLOWANCE,
        "today_utc": today,
        "run_date": date.fromisoformat(run_date),
    }
    values.update({name: derived_value(spec, today) for name, spec in derived.items()})
    values.update({name: value for name, value in context.items() if is_scalar(value)})
    return values


def is_scalar(value: Any) -> bool:
    return isinstance(value, int | float | str | date) and not isinstance(value, bool)
