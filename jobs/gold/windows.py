"""Point-in-time day windows over UTC event dates.

A window of N days ending on `as_of` covers the whole days [as_of - (N-1), as_of]; anything after
the as_of day never counts. Days are UTC days: event dates are taken with `to_date`, which uses
the session time zone, pinned to UTC in `jobs.runtime.PORTABLE_SPARK_CONF`.
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column
from pyspark.sql import functions as F


def window_start(as_of: date, days: int) -> date:
    """First day of the N-day window ending on (and including) `as_of`."""
    if days < 1:
        raise ValueError(f"a window needs at least one day, got {days}")
    return as_of - timedelta(days=days - 1)


def window_days(as_of: date, days: int) -> list[date]:
    """Every day of the N-day window ending on `as_of`, oldest first."""
    start = window_start(as_of, days)
    return [start + timedelta(days=offset) for offset in range(days)]


def event_date(event_time: Column) -> Column:
    return F.to_date(event_time)


def in_window(day: Column, as_of: date, days: int) -> Column:
    """True when the date column falls inside the N-day window ending on `as_of`."""
    return day.between(F.lit(window_start(as_of, days)), F.lit(as_of))
