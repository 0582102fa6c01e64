"""Point-in-time transaction features (Spark): what was knowable just before each transaction.

- transaction columns: the transaction itself (amount, hour, channel, merchant category);
- velocity: the same customer's transactions in the 10 minutes / 1 hour / 24 hours *strictly
  before* this one (a range window ending one second earlier, so never the row itself or a later
  one); the caller passes enough earlier history (a day) for the 24 h window;
- tenure: days from the customer's sign-up to the transaction (a customer's `created_at` never
  changes, so its first recorded value is used; a transaction before sign-up counts as 0 days);
- history: the gold `customer_features` snapshot as of the day *before* the transaction's UTC
  day, which only counts transactions up to the end of that day (its spend embedding is spread into
  one column per dimension). A customer without a snapshot row that day (new, or the snapshot was
  not built) has `has_history` = 0 and nulls, which the model treats as missing.

The same function builds the training set and the scoring input, so a model is served exactly the
features it was trained on. No identifier but `transaction_id` and `customer_id` is read.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.gold.versions import latest_transactions
from jobs.gold.windows import event_date
from jobs.ml.feature_spec import (
    CHANNELS,
    EMBEDDING_FEATURES,
    FEATURE_COLUMNS,
    HISTORY_FEATURES,
    ID_COLUMN,
    LABEL_COLUMN,
    MERCHANT_CATEGORIES,
    VELOCITY_WINDOWS,
)

SECONDS_PER_DAY = 86_400.0
NIGHT_BEFORE_HOUR = 6  # 00:00–05:59 UTC
SNAPSHOT_COLUMNS = tuple(c for c in HISTORY_FEATURES
                         if c not in ("has_history", "amount_to_avg_30d", *EMBEDDING_FEATURES))
EMBEDDING_COLUMN = "customer_embedding"  # gold's array<double>; spread into EMBEDDING_FEATURES
# The embedding columns ride along for evaluation (bench/embedding_auc.py); the model reads FEATURE_COLUMNS.
OUTPUT_COLUMNS = (ID_COLUMN, "customer_id", "event_time", "event_date", *FEATURE_COLUMNS, *EMBEDDING_FEATURES)


def _flag(condition: Column) -> Column:
    return F.when(condition, F.lit(1.0)).otherwise(F.lit(0.0))


def transaction_columns(df: DataFrame) -> DataFrame:
    """Features of the transaction alone."""
    hour = F.hour("event_time")
    channel = F.lower(F.trim(F.col("channel")))
    category = F.lower(F.trim(F.col("merchant_category")))
    amount = F.col("amount").cast("double")
    return df.select(
        "*",
        amount.alias("_amount"),
        F.log1p(amount).alias("log_amount"),
        hour.cast("double").alias("hour_of_day"),
        _flag(hour < NIGHT_BEFORE_HOUR).alias("is_night"),
        *[_flag(channel == c).alias(f"channel_{c}") for c in CHANNELS],
        *[_flag(category == c).alias(f"category_{c}") for c in MERCHANT_CATEGORIES],
    ).drop("amount").withColumnRenamed("_amount", "amount")


def velocity_columns(df: DataFrame) -> DataFrame:
    """Counts of the same customer's earlier transactions within each window (this one excluded)."""
    by_customer = Window.partitionBy("customer_id").orderBy(F.col("_epoch"))
    counts = [
        F.count(F.lit(1)).over(by_customer.rangeBetween(-seconds, -1)).cast("double").alias(f"txn_count_prev_{name}")
        for name, seconds in VELOCITY_WINDOWS.items()
    ]
    return df.withColumn("_epoch", F.unix_timestamp("event_time")).select("*", *counts).drop("_epoch")


def signup_times(customers: DataFrame) -> DataFrame:
    """customer_id → the first `created_at` recorded for it."""
    return (customers.where(F.col("customer_id").isNotNull() & F.col("created_at").isNotNull())
            .groupBy("customer_id").agg(F.min("created_at").alias("_created_at")))


def history_snapshots(customer_features: DataFrame) -> DataFrame:
    """Gold snapshot rows keyed for the join: the day they describe is the day *before* `_for_date`."""
    has_embedding = EMBEDDING_COLUMN in customer_features.columns  # gold written before embeddings: null
    embedding = [(F.col(EMBEDDING_COLUMN)[i] if has_embedding else F.lit(None)).cast("double").alias(name)
                 for i, name in enumerate(EMBEDDING_FEATURES)]
    return customer_features.select(
        "customer_id",
        F.date_add(F.col("as_of_date").cast("date"), 1).alias("_for_date"),
        F.lit(1.0).alias("has_history"),
        *[F.col(c).cast("double").alias(c) for c in SNAPSHOT_COLUMNS],
        *embedding,
    )


def with_history(dated: DataFrame, customers: DataFrame, customer_features: DataFrame) -> DataFrame:
    """Add sign-up time and the day-before snapshot (left joins: every transaction is kept)."""
    snapshots = history_snapshots(customer_features).withColumnRenamed("customer_id", "_snapshot_customer")
    with_signup = dated.join(signup_times(customers), on="customer_id", how="left")
    matches = ((with_signup["customer_id"] == snapshots["_snapshot_customer"])
               & (with_signup["event_date"] == snapshots["_for_date"]))
    return with_signup.join(snapshots, on=matches, how="left").drop("_snapshot_customer", "_for_date")


def transaction_features(transactions: DataFrame, customers: DataFrame, customer_features: DataFrame,
                         first_day: date | None = None) -> DataFrame:
    """OUTPUT_COLUMNS (plus `label` when `is_fraud` is present) for each transaction.

    `transactions` should start a day before `first_day` (for the 24 h velocity window); rows
    before `first_day` feed the windows only and are not returned.
    """
    valid = transactions.where(F.col(ID_COLUMN).isNotNull() & F.col("customer_id").isNotNull()
                               & F.col("event_time").isNotNull() & F.col("amount").isNotNull())
    dated = (velocity_columns(transaction_columns(latest_transactions(valid)))
             .withColumn("event_date", event_date(F.col("event_time"))))
    if first_day is not None:
        dated = dated.where(F.col("event_date") >= F.lit(first_day))
    joined = with_history(dated, customers, customer_features)
    tenure = (F.unix_timestamp("event_time") - F.unix_timestamp("_created_at")) / F.lit(SECONDS_PER_DAY)
    featured = joined.select(
        "*",
        F.when(tenure.isNotNull(), F.greatest(tenure, F.lit(0.0))).alias("tenure_days"),
        (F.col("amount") / F.when(F.col("avg_amount_30d") > 0, F.col("avg_amount_30d"))).alias("amount_to_avg_30d"),
    ).withColumn("has_history", F.coalesce(F.col("has_history"), F.lit(0.0)))
    columns = [*OUTPUT_COLUMNS]
    if "is_fraud" in transactions.columns:
        featured = featured.withColumn(
            LABEL_COLUMN, F.when(F.col("is_fraud").isNotNull(), F.col("is_fraud").cast("int")))
        columns.append(LABEL_COLUMN)
    return featured.select(*columns)
