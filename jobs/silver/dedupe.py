"""Deduplication on the dataset key: latest version by event time wins, within a batch and
against what silver already holds.

Most keys of a day arrive once and are not in silver yet; only the others (the *contested* keys)
need a decision. They are found from the keys alone (one narrow aggregate, and a join with
silver's keys), so the wide rows are only shuffled for the contested keys, not for the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

PARTITION_COLUMNS = ("year", "month", "day")
SUPERSEDED = "_superseded"
VERSIONS = "_versions"
EXISTING_TIME = "_existing_time"
BATCH_LATEST = "_batch_latest"


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
    """Add `_rank`: 1 for the latest version of each key by event time, 2.. for the rows it supersedes.

    Ties on event time are broken deterministically (source file, then a hash of the `content`
    columns), so a re-run picks the same winner.
    """
    order = [F.col(event_time).desc_nulls_last(), F.col("_source_file").desc(),
             F.xxhash64(*[F.col(c) for c in content]).desc()]
    return df.select("*", F.row_number().over(Window.partitionBy(*key).orderBy(*order)).alias("_rank"))


def contested_keys(promotable: DataFrame, existing_versions: DataFrame | None, key: Sequence[str],
                   event_time: str, carry: Sequence[Column] = ()) -> DataFrame:
    """The keys that need a decision, one row each: sent more than once in the batch, or already in silver.

    Columns: the key, `_versions` (rows the batch holds for it), `_existing_time` (the newest version
    silver holds, or null), `_superseded` (silver's version is *newer* than the batch's latest: the
    batch's rows are all duplicates; an equal time is not newer, which makes re-running a date
    idempotent), and `carry`: further aggregates over silver's versions of the key (null where silver
    does not hold it). `existing_versions` has the key columns and `_existing_time`.
    """
    in_batch = promotable.groupBy(*key).agg(F.count(F.lit(1)).alias(VERSIONS),
                                             F.max(event_time).alias(BATCH_LATEST))
    if existing_versions is None:
        contested = in_batch.where(F.col(VERSIONS) > 1).withColumn(EXISTING_TIME, F.lit(None).cast("timestamp"))
    else:
        newest = existing_versions.groupBy(*key).agg(F.max(EXISTING_TIME).alias(EXISTING_TIME), *carry)
        contested = (in_batch.join(newest, on=list(key), how="left")
                     .where((F.col(VERSIONS) > 1) | F.col(EXISTING_TIME).isNotNull()))
    superseded = F.coalesce(F.col(EXISTING_TIME) > F.col(BATCH_LATEST), F.lit(False))
    return contested.withColumn(SUPERSEDED, superseded).drop(BATCH_LATEST)


def losing_rows(promotable: DataFrame, contested: DataFrame, key: Sequence[str], event_time: str,
                content: Sequence[str], row_id: str) -> DataFrame:
    """The `row_id`s of the batch's rows that do not win: every row of a contested key but its latest,
    and every row of a key silver holds in a newer version (`_superseded`). Only the contested keys'
    rows are ranked (see `rank_versions`)."""
    rows = promotable.join(contested.select(*key, SUPERSEDED), on=list(key), how="inner")
    ranked = rank_versions(rows, key, event_time, content)
    return ranked.where((F.col("_rank") > 1) | F.col(SUPERSEDED)).select(row_id)


def merge_partition_content(existing_rows: DataFrame, winners: DataFrame, key: Sequence[str]) -> DataFrame:
    """New content of the affected partitions: existing rows not replaced by a winner, plus winners."""
    kept = existing_rows.join(winners.select(*key).distinct(), on=list(key), how="left_anti")
    return kept.unionByName(winners, allowMissingColumns=True)
