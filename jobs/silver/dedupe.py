"""Deduplication on the dataset key: latest version by event time wins, within a batch and
against what silver already holds."""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

PARTITION_COLUMNS = ("year", "month", "day")


def with_partition_columns(df: DataFrame, event_time: str) -> DataFrame:
    """`year`/`month`/`day` (zero-padded strings) from the event time's UTC date."""
    event_date = F.to_date(F.col(event_time))
    return df.select(
        "*",
        F.date_format(event_date, "yyyy").alias("year"),
        F.date_format(event_date, "MM").alias("month"),
        F.date_format(event_date, "dd").alias("day"),
    )


def latest_per_key(df: DataFrame, key: Sequence[str], event_time: str,
                   tie_breakers: Sequence[str] = ("_source_file", "_raw_record")) -> tuple[DataFrame, DataFrame]:
    """Split a batch into (one row per key: the latest by event time, the rows it supersedes).

    Ties on event time are broken deterministically (by source file, then raw text) so a re-run
    picks the same winner.
    """
    order = [F.col(event_time).desc_nulls_last(), *[F.col(c).desc() for c in tie_breakers]]
    ranked = df.withColumn("_rank", F.row_number().over(Window.partitionBy(*key).orderBy(*order)))
    winners = ranked.where("_rank = 1").drop("_rank")
    losers = ranked.where("_rank > 1").drop("_rank")
    return winners, losers


def split_superseded(incoming: DataFrame, existing_versions: DataFrame, key: Sequence[str],
                     event_time: str) -> tuple[DataFrame, DataFrame]:
    """Incoming rows whose key silver already holds in a *newer* version are duplicates.

    `existing_versions` has the key columns and `_existing_time`. An equal time is not newer: the
    incoming row wins, which makes re-running an ingest date idempotent.
    """
    newest = existing_versions.groupBy(*key).agg(F.max("_existing_time").alias("_existing_time"))
    joined = incoming.join(newest, on=list(key), how="left")
    superseded_flag = F.col("_existing_time").isNotNull() & (F.col("_existing_time") > F.col(event_time))
    winners = joined.where(~superseded_flag).drop("_existing_time")
    superseded = joined.where(superseded_flag).drop("_existing_time")
    return winners, superseded


def merge_partition_content(existing_rows: DataFrame, winners: DataFrame, key: Sequence[str]) -> DataFrame:
    """New content of the affected partitions: existing rows not replaced by a winner, plus winners."""
    kept = existing_rows.join(winners.select(*key).distinct(), on=list(key), how="left_anti")
    return kept.unionByName(winners, allowMissingColumns=True)
