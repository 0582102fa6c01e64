"""Decimal arithmetic for amounts: sums and means that stay exact and round half-up."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

SUM_TYPE = "decimal(18,2)"
MEAN_TYPE = "decimal(12,2)"


def amount_sum(amount: Column) -> Column:
    """Sum of a decimal(12,2) amount as decimal(18,2); 0.00 (not null) when there is nothing to sum."""
    return F.coalesce(F.sum(amount), F.lit(0)).cast(SUM_TYPE)


def rounded_mean(total: Column, count: Column) -> Column:
    """total / count rounded half-up to cents as decimal(12,2); null when count is 0.

    Spark's `avg` on decimals keeps only 6 fraction digits before our rounding to 2, which can
    round twice (…4999996 → …5 → up). Dividing a decimal(24,2) by a decimal(10,0) keeps 13
    fraction digits, so the one rounding that matters is `round` (HALF_UP) to cents.
    """
    safe_count = F.when(count > 0, count).cast("decimal(10,0)")
    return F.round(total.cast("decimal(24,2)") / safe_count, 2).cast(MEAN_TYPE)
