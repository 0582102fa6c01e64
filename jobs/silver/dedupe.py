"""Deduplication on the dataset key: latest version by event time wins, within a batch and
against what silver already holds.

Most keys of a day arrive once and are not in silver yet; only the others (the *contested* keys)
need a decision. They are found from the keys alone (one narrow aggregate, and a join with
silver's keys), so the wide rows are only shuffled for the contested keys, not for the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

PARTITION_COLUMNS = ("year", "month", "day")
SUPERSEDED = "_superseded"
VERSIONS = "_versions"
EXISTING_TIME = "_existing_time"
BATCH_LATEST = "_batch_latest"
BATCH_EARLIEST = "_batch_earliest"
EXISTING_PARTITIONS = "_existing_partitions"
_SILVER_VERSIONS = "_silver_versions"
KEY_HASH = "_key_hash"
Partition = tuple[str, str, str]


def with_partition_columns(df: DataFrame, event_time: str) -> DataFrame:
    """`year`/`month`/`day` (zero-padded strings) from the event time's UTC date."""
    event_date = F.to_date(F.col(event_time))
    return df.select(
        "*",
        F.date_format(event_date, "yyyy").alias("year"),
        F.date_format(event_date, "MM").alias("month"),
        F.date_format(event_date, "dd").alias("day"),
    )


def match_window(partitions: Iterable[Partition], days: int | None) -> list[Partition] | None:
    """The silver partitions to read for earlier versions of a batch's keys: every day within `days`
    of a day the batch's rows fall in (None: all of silver). A superset of what `contested_keys`
    matches per key; it bounds what is read."""
    if days is None:
        return None
    window: set[Partition] = set()
    for year, month, day in partitions:
        if None in (year, month, day):
            continue  # no event date: its own partition only (rows without one are not matched by date)
        middle = date(int(year), int(month), int(day))
        for offset in range(-days, days + 1):
            shifted = middle + timedelta(days=offset)
            window.add((f"{shifted:%Y}", f"{shifted:%m}", f"{shifted:%d}"))
    return sorted(window)


def versions_of_batch_keys(existing_versions: DataFrame, batch: DataFrame, key: Sequence[str]) -> DataFrame:
    """Silver's versions of the keys the batch holds, found without shuffling silver's keys.

    A broadcast semi-join on a 64-bit hash of the key: each silver row is only probed against the
    batch's hashes, and the few that match go on to the exact join in `contested_keys` (a hash
    collision lets an unrelated key through to that join, never drops a real one). The batch's
    hashes are 8 bytes per row: callers keep this for batches that fit the driver comfortably.
    """
    def hashed() -> Column:
        return F.xxhash64(*[F.col(k) for k in key]).alias(KEY_HASH)

    return (existing_versions.select("*", hashed())
            .join(F.broadcast(batch.select(hashed())), on=KEY_HASH, how="left_semi")
            .drop(KEY_HASH))


def rank_versions(df: DataFrame, key: Sequence[str], event_time: str, content: Sequence[str]) -> DataFrame:
    """Add `_rank`: 1 for the latest version of each key by event time, 2.. for the rows it supersedes.

    Ties on event time are broken deterministically (source file, then a hash of the `content`
    columns), so a re-run picks the same winner.
    """
    order = [F.col(event_time).desc_nulls_last(), F.col("_source_file").desc(),
             F.xxhash64(*[F.col(c) for c in content]).desc()]
    return df.select("*", F.row_number().over(Window.partitionBy(*key).orderBy(*order)).alias("_rank"))


def contested_keys(promotable: DataFrame, existing_versions: DataFrame | None, key: Sequence[str],
                   event_time: str, match_window_days: int | None = None) -> DataFrame:
    """The keys that need a decision, one row each: sent more than once in the batch, or already in silver.

    Columns: the key, `_versions` (rows the batch holds for it), `_existing_time` (the newest version
    silver holds, or null), `_superseded` (silver's version is *newer* than the batch's latest: the
    batch's rows are all duplicates; an equal time is not newer, which makes re-running a date
    idempotent), and `_existing_partitions` (the partitions holding silver's versions of the key,
    null where it holds none). `existing_versions` has the key columns, `_existing_time` and the
    partition columns.

    With `match_window_days`, a silver version counts only if its event date is within that many days
    of one of the key's event dates in the batch: the decision for a key never depends on which other
    rows share the batch.
    """
    in_batch = promotable.groupBy(*key).agg(F.count(F.lit(1)).alias(VERSIONS),
                                             F.max(event_time).alias(BATCH_LATEST),
                                             F.min(event_time).alias(BATCH_EARLIEST))
    if existing_versions is None:
        contested = (in_batch.where(F.col(VERSIONS) > 1)
                     .withColumn(EXISTING_TIME, F.lit(None).cast("timestamp"))
                     .withColumn(EXISTING_PARTITIONS, F.lit(None).cast(_partitions_type())))
    else:
        # Silver's versions of a key as one array, so the window is checked after the one join.
        version = F.struct(F.col(EXISTING_TIME).alias("time"), *[F.col(p) for p in PARTITION_COLUMNS])
        held = existing_versions.groupBy(*key).agg(F.collect_list(version).alias(_SILVER_VERSIONS))
        versions = F.col(_SILVER_VERSIONS)
        if match_window_days is not None:
            lowest = F.date_sub(F.to_date(F.col(BATCH_EARLIEST)), match_window_days)
            highest = F.date_add(F.to_date(F.col(BATCH_LATEST)), match_window_days)
            versions = F.filter(versions, lambda v: F.to_date(v["time"]).between(lowest, highest))
        partitions = F.array_sort(F.array_distinct(F.transform(
            versions, lambda v: F.struct(*[v[p].alias(p) for p in PARTITION_COLUMNS]))))
        contested = (in_batch.join(held, on=list(key), how="left")
                     .select(*key, VERSIONS, BATCH_LATEST,
                             F.array_max(F.transform(versions, lambda v: v["time"])).alias(EXISTING_TIME),
                             F.when(F.size(versions) > 0, partitions).alias(EXISTING_PARTITIONS))
                     .where((F.col(VERSIONS) > 1) | F.col(EXISTING_TIME).isNotNull()))
    superseded = F.coalesce(F.col(EXISTING_TIME) > F.col(BATCH_LATEST), F.lit(False))
    return contested.withColumn(SUPERSEDED, superseded).drop(BATCH_LATEST, BATCH_EARLIEST)


def _partitions_type() -> str:
    return "array<struct<" + ",".join(f"{p}:string" for p in PARTITION_COLUMNS) + ">>"


def losing_rows(promotable: DataFrame, contested: DataFrame, key: Sequence[str], event_time: str,
                content: Sequence[str], row_id: str) -> DataFrame:
    """The `row_id`s of the batch's rows that do not win: every row of a contested key but its latest,
    and every row of a key silver holds in a newer version (`_superseded`). Only the contested keys'
    rows are ranked (see `rank_versions`)."""
    rows = promotable.join(contested.select(*key, SUPERSEDED), on=list(key), how="inner")
    ranked = rank_versions(rows, key, event_time, content)
    return ranked.where((F.col("_rank") > 1) | F.col(SUPERSEDED)).select(row_id)


def replaced_versions(contested: DataFrame, key: Sequence[str]) -> DataFrame:
    """The keys whose version in silver the batch replaces (found in silver, in the match window, and
    not superseded there), with the partitions holding those versions: the existing partitions to
    rewrite, and the only keys whose existing rows leave them."""
    return contested.where(~F.col(SUPERSEDED) & F.col(EXISTING_TIME).isNotNull()).select(*key, EXISTING_PARTITIONS)


def merge_partition_content(existing_rows: DataFrame, winners: DataFrame, replaced: DataFrame,
                            key: Sequence[str]) -> DataFrame:
    """New content of the affected partitions: existing rows whose key is not `replaced`, plus winners.

    Existing rows are dropped by the keys deduplication matched, not by every winner's key: with a
    match window, a key's older version outside the window stays, whether or not its partition
    happens to be rewritten for another key.
    """
    kept = existing_rows.join(replaced, on=list(key), how="left_anti")
    return kept.unionByName(winners, allowMissingColumns=True)
