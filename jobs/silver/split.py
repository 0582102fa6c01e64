"""Where a conformed bronze batch's rows go: rejected (with their reasons) or promotable, and of the
promotable ones the winners of deduplication, in the batch and against silver, from ONE persisted
batch (see `split_batch`). Step `split` of bronze_to_silver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import functions as F

from jobs.batch_cache import PinnedFrames
from jobs.bronze_accounting import reason_token, unreadable, unreadable_file_rejects
from jobs.bronze_decode import BYTE_OFFSET, SOURCE_ROW
from jobs.bronze_files import BronzeFile
from jobs.contracts import Contract
from jobs.silver.conform import EXTRA_COLUMNS, REASONS, RECORD_KEY
from jobs.silver.dedupe import (
    EXISTING_PARTITIONS,
    EXISTING_TIME,
    PARTITION_COLUMNS,
    SUPERSEDED,
    VERSIONS,
    contested_keys,
    losing_rows,
    match_window,
    replaced_versions,
    versions_of_batch_keys,
    with_partition_columns,
)
from jobs.tables import TableRef, partition_predicate, read_if_exists

REJECTED = "_rejected"
ROW_ID = "_row_id"


@dataclass
class BatchSplit:
    """Where a bronze batch's rows go: the rejected rows (with their reasons), the promotable winners,
    and how many promotable rows were duplicates. All of it comes from one persisted frame."""

    rejected: DataFrame
    winners: DataFrame
    valid_rows: int
    in_batch_duplicates: int
    superseded: int
    quarantined_by_reason: dict[str | None, int]
    # Partitions the publish may change: those of the promotable rows (a superset of the winners'),
    # and those holding silver's older versions of the contested keys that win.
    partitions: list[tuple[str, str, str]]
    replaced_keys: DataFrame  # keys whose silver version the winners replace (see dedupe.replaced_versions)
    pinned: PinnedFrames  # released when published
    # Per bronze file: rows read, rows rejected at conform, rows deduplication drops.
    read_by_file: dict[str, int] = field(default_factory=dict)
    rejected_by_file: dict[str, int] = field(default_factory=dict)
    duplicates_by_file: dict[str, int] = field(default_factory=dict)

    @property
    def winner_rows(self) -> int:
        return self.valid_rows - self.in_batch_duplicates - self.superseded

    def release(self) -> None:
        self.pinned.release()


# Above this many promotable rows, silver's versions are matched to the batch by a shuffle join
# instead of a broadcast of the batch's key hashes (8 bytes a row, held by the driver and each executor).
BROADCAST_KEYS_MAX_ROWS = 20_000_000


@dataclass(frozen=True)
class SilverAsRead:
    """The silver table as this run read it: every read of it goes through the same snapshot."""

    spark: SparkSession
    table: TableRef
    snapshot: int | None

    def partitions(self, partitions: list[tuple[str, str, str]] | None) -> DataFrame | None:
        """Rows in `partitions` (None: all of silver); a filter on the partition columns, so Iceberg
        plans only those partitions' files. None when the table has no snapshot yet."""
        rows = read_if_exists(self.spark, self.table, self.snapshot) if self.snapshot is not None else None
        if rows is None or partitions is None:
            return rows
        return rows.where(partition_predicate(PARTITION_COLUMNS, partitions)) if partitions else None


def existing_versions(silver: SilverAsRead, contract: Contract,
                      partitions: list[tuple[str, str, str]] | None) -> DataFrame | None:
    """Key, event time and partition of the rows silver holds in `partitions` (None: all of silver)."""
    existing = silver.partitions(partitions)
    if existing is None:
        return None
    return existing.select(
        *contract.key,
        F.col(contract.event_time).alias(EXISTING_TIME),
        *PARTITION_COLUMNS,
    )


@dataclass
class BatchCounts:
    by_reason: dict[str | None, int]
    valid_rows: int
    partitions: set[tuple[str, str, str]]
    read_by_file: dict[str, int]
    rejected_by_file: dict[str, int]


def count_batch(batch: DataFrame) -> BatchCounts:
    """One aggregate over the persisted batch: rejected rows per first reason, promotable rows, the
    partitions the promotable rows fall in, and rows read and rejected per bronze file."""
    reason = F.when(F.col(REJECTED), F.col(REASONS)[0]).alias("reason")
    promotable_partition = [F.when(~F.col(REJECTED), F.col(p)).alias(p) for p in PARTITION_COLUMNS]
    counted = BatchCounts({}, 0, set(), {}, {})
    counts = batch.groupBy("_source_file", REJECTED, reason, *promotable_partition).agg(
        F.count(F.lit(1)).alias("rows"))
    for row in counts.collect():
        source, rows = row["_source_file"], row["rows"]
        counted.read_by_file[source] = counted.read_by_file.get(source, 0) + rows
        if row[REJECTED]:
            counted.by_reason[row["reason"]] = counted.by_reason.get(row["reason"], 0) + rows
            counted.rejected_by_file[source] = counted.rejected_by_file.get(source, 0) + rows
        else:
            counted.valid_rows += rows
            counted.partitions.add((row["year"], row["month"], row["day"]))
    return counted


def duplicate_totals(contested: DataFrame) -> Row:
    """Over the contested keys: in-batch duplicates (all rows of a key but one), superseded keys (silver
    holds a newer version), and the rows deduplication drops (`losers`: both kinds together)."""
    superseded, versions = F.col(SUPERSEDED), F.col(VERSIONS)
    return contested.agg(
        F.coalesce(F.sum(versions - 1), F.lit(0)).alias("duplicates"),
        F.count(F.when(superseded, True)).alias("superseded"),
        F.coalesce(F.sum(F.when(superseded, versions).otherwise(versions - 1)), F.lit(0)).alias("losers"),
    ).first()


def split_batch(spark: SparkSession, conformed: DataFrame, contract: Contract, silver: SilverAsRead,
                protect: Callable[[DataFrame], DataFrame] = lambda df: df,
                small_batch: bool = False) -> BatchSplit:
    """Split the conformed batch with ONE pass over the bronze files and no shuffle of the wide rows
    beyond the keys that need a decision.

    The conformed batch is persisted once, with a `_rejected` flag and a row id. Rejected rows (any
    reason) are kept whole; promotable rows are deduplicated in the batch (latest per key) and
    against silver, but only the contested keys (sent more than once, or already in silver: see
    `dedupe.contested_keys`) are ranked, and the winners are the promotable rows minus the losing
    row ids (none on a clean day: then the winners are a plain filter of the cache). One aggregate
    gives the rejected rows per reason and the promotable rows; one over the contested keys (small,
    persisted) gives the duplicates.
    `protect` (the structured PII policies) is applied before the batch is persisted.
    A `small_batch` is checkpointed locally instead of persisted (see jobs/batch_cache.py).
    """
    # Exact complements (a null reason list counts as rejected), so no row can fall between them.
    rejected_flag = ~(F.coalesce(F.size(REASONS), F.lit(-1)) == 0)
    quarantine_only = ("_raw_record", RECORD_KEY, EXTRA_COLUMNS, REASONS,
                       *[c for c in (SOURCE_ROW, BYTE_OFFSET) if c in conformed.columns])
    batch = conformed.select(
        *[c for c in conformed.columns if c not in (EXTRA_COLUMNS, REASONS)],
        # Null for promotable rows: an (empty) array per row would cost the cache more than the data.
        F.when(rejected_flag, F.col(EXTRA_COLUMNS)).alias(EXTRA_COLUMNS),
        F.when(rejected_flag, F.col(REASONS)).alias(REASONS),
        rejected_flag.alias(REJECTED),
    )
    # A row id, fixed when the batch is persisted, names the few rows deduplication drops.
    batch = protect(with_partition_columns(batch, contract.event_time)).withColumn(
        ROW_ID, F.monotonically_increasing_id())
    pinned = PinnedFrames(small_batch)
    batch = pinned.pin(batch)
    try:
        counted = count_batch(batch)
        by_reason, valid_rows, partitions = counted.by_reason, counted.valid_rows, counted.partitions
        promotable = batch.where(~F.col(REJECTED)).drop(REJECTED, *quarantine_only)
        versions = existing_versions(silver, contract,
                                     match_window(partitions, contract.match_window_days))
        if versions is not None and valid_rows <= BROADCAST_KEYS_MAX_ROWS:
            versions = versions_of_batch_keys(versions, promotable, contract.key)
        contested = pinned.pin(contested_keys(promotable.select(*contract.key, contract.event_time), versions,
                                              contract.key, contract.event_time, contract.match_window_days))
        totals = duplicate_totals(contested)
        winners = promotable
        if totals["losers"]:
            content = [c for c in contract.column_names if c in promotable.columns]  # a PII policy may drop some
            losers = losing_rows(promotable, contested, contract.key, contract.event_time, content, ROW_ID)
            losers = pinned.pin(losers)
            winners = promotable.join(losers, on=ROW_ID, how="left_anti")
            duplicates_by_file = {row["_source_file"]: row["rows"] for row in losers.join(
                promotable.select(ROW_ID, "_source_file"), on=ROW_ID).groupBy("_source_file").agg(
                F.count(F.lit(1)).alias("rows")).collect()}
        else:
            duplicates_by_file = {}
        winners = winners.drop(ROW_ID)
        replaced = replaced_versions(contested, contract.key)
        if versions is not None:
            older = replaced.select(F.explode(EXISTING_PARTITIONS).alias("_p")).select("_p.*").distinct()
            partitions |= {tuple(row) for row in older.collect()}
    except Exception:
        pinned.release()
        raise
    return BatchSplit(batch.where(F.col(REJECTED)), winners, valid_rows, int(totals["duplicates"]),
                      int(totals["superseded"]), by_reason, sorted(partitions),
                      replaced.select(*contract.key), pinned=pinned, read_by_file=counted.read_by_file,
                      rejected_by_file=counted.rejected_by_file, duplicates_by_file=duplicates_by_file)


def add_unreadable_files(spark: SparkSession, split: BatchSplit, entries: list[BronzeFile]) -> None:
    """Files that could not be read at all join the rejected rows, one record each (see
    jobs/bronze_accounting.py), before anything is counted or written."""
    rejects = unreadable_file_rejects(spark, entries, REASONS, RECORD_KEY)
    if rejects is None:
        return
    split.rejected = split.rejected.unionByName(rejects, allowMissingColumns=True)
    for entry in unreadable(entries):
        reason = reason_token(entry)
        split.quarantined_by_reason[reason] = split.quarantined_by_reason.get(reason, 0) + 1
