"""Gold `customer_features`: one row per customer known as of a day, with 7- and 30-day activity.

Point-in-time rules:
- a customer is known when its `created_at` date is on or before the as_of day;
- its attributes come from the latest version updated on or before the as_of day; a customer
  whose only versions in silver were updated later (silver keeps no older copy) falls back to the
  earliest of those, so a known customer is never dropped;
- transactions count only when their event date is inside the window and never after as_of.
Transactions are deduplicated on transaction_id first (latest event time wins), as silver does.

No direct identifiers leave this module: the output is exactly FEATURE_COLUMNS.
`avg_amount_30d` and `days_since_last_txn` are null when there is nothing to measure (no
transaction in 30 days / no transaction at all in the input); counts and sums are 0.
`days_since_last_txn` looks at every transaction it is given up to as_of, so it is exact only
as far back as the caller's input reaches (the job reads its lookback window).
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.gold.money import SUM_TYPE, amount_sum, rounded_mean
from jobs.gold.versions import latest_per_key, latest_transactions
from jobs.gold.vocabulary import (
    SEGMENT_COLUMNS,
    country_index,
    normalized_country,
    normalized_segment,
    segment_one_hot,
)
from jobs.gold.windows import event_date, in_window

SHORT_WINDOW_DAYS = 7
LONG_WINDOW_DAYS = 30

ACTIVITY_COLUMNS: tuple[str, ...] = (
    "txn_count_7d",
    "txn_amount_7d",
    "txn_count_30d",
    "txn_amount_30d",
    "avg_amount_30d",
    "distinct_merchants_30d",
    "days_since_last_txn",
)
FEATURE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "as_of_date",
    *ACTIVITY_COLUMNS,
    "tenure_days",
    "segment",
    "country",
    *SEGMENT_COLUMNS,
    "country_index",
)


def customers_as_of(customers: DataFrame, as_of: date) -> DataFrame:
    """One version per customer known on the as_of day: customer_id, segment, country, created_at."""
    updated_by_as_of = F.coalesce(event_date(F.col("updated_at")) <= F.lit(as_of), F.lit(False))
    preference = [
        updated_by_as_of.desc(),  # versions known on the day first
        F.when(updated_by_as_of, F.col("updated_at")).desc_nulls_last(),  # latest of those
        F.when(~updated_by_as_of, F.col("updated_at")).asc_nulls_last(),  # else the nearest later one
    ]
    chosen = latest_per_key(customers.where(F.col("customer_id").isNotNull()), ["customer_id"], preference)
    return chosen.where(event_date(F.col("created_at")) <= F.lit(as_of)).select(
        "customer_id",
        normalized_segment(F.col("segment")).alias("segment"),
        normalized_country(F.col("country")).alias("country"),
        "created_at",
    )


def transaction_activity(transactions: DataFrame, as_of: date) -> DataFrame:
    """Per customer_id: window counts, sums, mean, distinct merchants and the last transaction date."""
    day = event_date(F.col("event_time"))
    in_short = in_window(day, as_of, SHORT_WINDOW_DAYS)
    in_long = in_window(day, as_of, LONG_WINDOW_DAYS)
    until_as_of = latest_transactions(transactions).where(
        F.col("customer_id").isNotNull() & (day <= F.lit(as_of)))
    totals = until_as_of.groupBy("customer_id").agg(
        F.count(F.when(in_short, F.lit(1))).alias("txn_count_7d"),
        amount_sum(F.when(in_short, F.col("amount"))).alias("txn_amount_7d"),
        F.count(F.when(in_long, F.lit(1))).alias("txn_count_30d"),
        amount_sum(F.when(in_long, F.col("amount"))).alias("txn_amount_30d"),
        # A customer's own merchant set is small; collect_set avoids countDistinct's row expansion.
        F.size(F.collect_set(F.when(in_long, F.col("merchant_id")))).alias("distinct_merchants_30d"),
        F.max(day).alias("last_txn_date"),
    )
    return totals.select(
        "customer_id",
        "txn_count_7d",
        "txn_amount_7d",
        "txn_count_30d",
        "txn_amount_30d",
        rounded_mean(F.col("txn_amount_30d"), F.col("txn_count_30d")).alias("avg_amount_30d"),
        "distinct_merchants_30d",
        F.datediff(F.lit(as_of), F.col("last_txn_date")).alias("days_since_last_txn"),
    )


def _zero_if_inactive(name: str, data_type: str) -> Column:
    """A customer without transactions has no activity row: its counts and sums are 0, not null."""
    return F.coalesce(F.col(name), F.lit(0)).cast(data_type).alias(name)


def customer_features(transactions: DataFrame, customers: DataFrame, as_of: date) -> DataFrame:
    """The gold feature rows as of `as_of` (see the module docstring for the point-in-time rules)."""
    known = customers_as_of(customers, as_of)
    activity = transaction_activity(transactions, as_of)
    joined = known.join(activity, on="customer_id", how="left")
    return joined.select(
        "customer_id",
        F.lit(as_of).alias("as_of_date"),
        _zero_if_inactive("txn_count_7d", "long"),
        _zero_if_inactive("txn_amount_7d", SUM_TYPE),
        _zero_if_inactive("txn_count_30d", "long"),
        _zero_if_inactive("txn_amount_30d", SUM_TYPE),
        "avg_amount_30d",
        _zero_if_inactive("distinct_merchants_30d", "long"),
        "days_since_last_txn",
        F.datediff(F.lit(as_of), event_date(F.col("created_at"))).alias("tenure_days"),
        "segment",
        "country",
        *segment_one_hot(F.col("segment")),
        country_index(F.col("country")),
    )
