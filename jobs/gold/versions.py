"""Picking one version per key when silver holds several (re-sent or re-delivered records)."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

PROCESSED_AT = "_processed_at"


def latest_per_key(df: DataFrame, key: Sequence[str], order: Sequence[Column]) -> DataFrame:
    """One row per key: the first by `order` (then by the latest `_processed_at`, if present)."""
    tie_breakers = [F.col(PROCESSED_AT).desc_nulls_last()] if PROCESSED_AT in df.columns else []
    rank = F.row_number().over(Window.partitionBy(*key).orderBy(*order, *tie_breakers))
    return df.withColumn("_version_rank", rank).where(F.col("_version_rank") == 1).drop("_version_rank")


def latest_transactions(transactions: DataFrame) -> DataFrame:
    """Silver's rule applied across partitions: one row per transaction_id, latest event time wins."""
    return latest_per_key(transactions, ["transaction_id"], [F.col("event_time").desc_nulls_last()])
