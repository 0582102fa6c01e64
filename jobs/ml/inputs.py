"""Reading what the model's features are built from: silver transactions and customers, and the
gold `customer_features` snapshots. Only the columns the features need are read (never names,
emails, card numbers or IPs), with explicit schemas so partition values stay strings."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import storage
from jobs.lake import LakeLayout
from jobs.silver_to_gold import SILVER_PARTITION_COLUMNS, only_event_days, read_silver

FEATURES_TABLE = "customer_features"

TRANSACTIONS_SCHEMA = T.StructType([
    T.StructField("transaction_id", T.StringType()),
    T.StructField("customer_id", T.StringType()),
    T.StructField("amount", T.DecimalType(12, 2)),
    T.StructField("merchant_category", T.StringType()),
    T.StructField("channel", T.StringType()),
    T.StructField("event_time", T.TimestampType()),
    T.StructField("is_fraud", T.BooleanType()),
    T.StructField("_processed_at", T.TimestampType()),
    *[T.StructField(name, T.StringType()) for name in SILVER_PARTITION_COLUMNS],
])
CUSTOMERS_SCHEMA = T.StructType([
    T.StructField("customer_id", T.StringType()),
    T.StructField("created_at", T.TimestampType()),
])


class GoldFeaturesMissingError(RuntimeError):
    """The gold customer_features table the model needs has not been built (run ingestion first)."""


def read_transactions(spark: SparkSession, layout: LakeLayout, days: Iterable[date]) -> DataFrame:
    """Silver transactions of the given event days only (partition pruning)."""
    return only_event_days(read_silver(spark, layout.silver_table("transactions"), TRANSACTIONS_SCHEMA), days)


def read_customers(spark: SparkSession, layout: LakeLayout) -> DataFrame:
    return read_silver(spark, layout.silver_table("customers"), CUSTOMERS_SCHEMA)


def read_customer_features(spark: SparkSession, layout: LakeLayout, as_of_days: Iterable[date]) -> DataFrame:
    """Gold snapshots for the given as_of days (a day that was never built is simply absent)."""
    path = layout.gold_table(FEATURES_TABLE)
    if not storage.exists(path):
        raise GoldFeaturesMissingError(
            f"gold {FEATURES_TABLE} not found at {path}: run the ingestion pipeline for these dates first")
    wanted = sorted({d.isoformat() for d in as_of_days})
    return spark.read.parquet(path).where(F.col("as_of_date").isin(*wanted))


def snapshot_days(customer_features: DataFrame) -> set[date]:
    return {date.fromisoformat(str(row["as_of_date"])[:10])
            for row in customer_features.select("as_of_date").distinct().collect()}
