"""Deduplication on the dataset key: latest version by event time wins, within a batch and
against what silver already holds."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

PARTITION_COLUMNS = ("year", "month", "day")
SUPERSEDED = "_superseded"
VERSIONS = "_versions"


def with_partition_columns(df: DataFrame, event_time: str) -> DataFrame:
    """`year`/`month`/`day` (zero-padded strings) from the event time's UTC date."""
    event_date = F.to_date(F.col(event_time))
    return df.select(
        "*",
        F.date_format(event_date, "yyyy").alias("year"),
        F.date_format(event_date, "MM").alias("month"),
        F.date_format(event_date, "dd").alias("day"),
    )


def rank_versions(df: DataFrame, key: Sequence[str], event_time: str, content: Sequence[str]) -> DataFrame:
    """Add `_rank`: 1 for the latest version of each key by event time, 2.. for the rows it supersedes,
    and `_versions`: how many rows the batch holds for the key (one window, one shuffle).

    Ties on event time are broken deterministically (source file, then a hash of the `content`
    columns), so a re-run picks the same winner.
    """
    order = [F.col(event_time).desc_nulls_last(), F.col("_source_file").desc(),
             F.xxhash64(*[F.col(c) for c in content]).desc()]
    by_key = Window.partitionBy(*key)
    return df.select("*", F.row_number().over(by_key.orderBy(*order)).alias("_rank"),
                     F.count(F.lit(1)).over(by_key).alias(VERSIONS))


def flag_superseded(incoming: DataFrame, existing_versions: DataFrame, key: Sequence[str],
                    event_time: str, carry: Sequence[Column] = ()) -> DataFrame:
    """Add `_superseded`: silver already holds this key in a *newer* version (the row is a duplicate).

    `existing_versions` has the key columns and `_existing_time`. An equal time is not newer: the
    incoming row wins, which makes re-running an ingest date idempotent. `carry` are further
    aggregates over each key's existing versions (e.g. the partitions holding them), joined on as
    columns in the same pass (null where silver does not hold the key).
    """
    newest = existing_versions.groupBy(*key).agg(F.max("_existing_time").alias("_existing_time"), *carry)
    joined = incoming.join(newest, on=list(key), how="left")
    flag = F.coalesce(F.col("_existing_time") > F.col(event_time), F.lit(False))
    return joined.withColumn(SUPERSEDED, flag).drop("_existing_time")


def merge_partition_content(existing_rows: DataFrame, winners: DataFrame, key: Sequence[str]) -> DataFrame:
    """New content of the affected partitions: existing rows not replaced by a winner, plus winners."""
    kept = existing_rows.join(winners.select(*key).distinct(), on=list(key), how="left_anti")
    return kept.unionByName(winners, allowMissingColumns=True)
