"""Gold `daily_merchant_metrics`: per UTC event day and merchant_category, volume and fraud.

Fraud labels: `is_fraud` is optional in the contract. A null label counts as *not fraud*, so
`fraud_rate` = fraud_count / txn_count over the same population as every other column here
(a rate over labelled rows only would silently change denominator from day to day). It is
therefore a lower bound when labels are missing, and always within 0..1.
Transactions are deduplicated on transaction_id first (latest event time wins), as silver does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.gold.money import amount_sum, rounded_mean
from jobs.gold.versions import latest_transactions
from jobs.gold.windows import event_date

METRIC_COLUMNS: tuple[str, ...] = (
    "event_date",
    "merchant_category",
    "txn_count",
    "total_amount",
    "avg_amount",
    "fraud_count",
    "fraud_rate",
    "distinct_customers",
)


def daily_merchant_metrics_for_days(transactions: DataFrame, days: Iterable[date]) -> DataFrame:
    """Metrics rows for each of `days` that has transactions (a day without any has no rows)."""
    wanted = sorted(set(days))
    if not wanted:
        raise ValueError("daily_merchant_metrics needs at least one day")
    dated = latest_transactions(transactions).withColumn("event_date", event_date(F.col("event_time")))
    on_days = dated.where(F.col("event_date").isin(*[F.lit(d) for d in wanted]))
    is_fraud = F.coalesce(F.col("is_fraud"), F.lit(False))
    totals = on_days.groupBy("event_date", "merchant_category").agg(
        F.count(F.lit(1)).alias("txn_count"),
        amount_sum(F.col("amount")).alias("total_amount"),
        F.count(F.when(is_fraud, F.lit(1))).alias("fraud_count"),
        F.countDistinct("customer_id").alias("distinct_customers"),
    )
    return totals.select(
        "event_date",
        "merchant_category",
        "txn_count",
        "total_amount",
        rounded_mean(F.col("total_amount"), F.col("txn_count")).alias("avg_amount"),
        "fraud_count",
        (F.col("fraud_count") / F.col("txn_count")).cast("double").alias("fraud_rate"),
        "distinct_customers",
    )


def daily_merchant_metrics(transactions: DataFrame, day: date) -> DataFrame:
    """Metrics rows for one UTC event day."""
    return daily_merchant_metrics_for_days(transactions, [day])
