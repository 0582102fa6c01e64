"""Glue job: maintain every lake table: retention of rows, compaction, snapshot expiry, orphan files.

A table format that is never maintained grows slower and larger every night: each run adds a
snapshot and files, each killed run leaves files no snapshot references, and rows past their
retention stay forever. An S3 lifecycle expiration cannot do this job (deleting a data file a
snapshot references corrupts the table), so retention goes through the table format, per table:

1. rows: the partitions whose date is older than the layer's row retention (silver 1 year, gold 3
   years, counted back from the run date) are deleted, one metadata-only commit;
2. compaction: in each partition with several small files, they are rewritten into one;
3. snapshots older than the layer's snapshot retention are expired, except the newest
   `min_snapshots` of `main` (the window within which `lakehouse rollback` works); the files only
   they referenced are deleted;
4. orphan files (written by a run that was killed before it committed) older than a grace period
   are deleted; younger ones may belong to a run still writing.

Commits are tagged with the maintenance run's id, so `lakehouse history` names them and `rollback
--run` can undo a retention delete while its snapshot is kept. Counts are checked: compaction and
expiry change no table's rows, and the retention delete removes exactly what its snapshot says.
The clock (`--now`) is injectable so that tests and drills need not wait for days to pass.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pyspark.sql import Column, SparkSession
from pyspark.sql import functions as F

from jobs import storage
from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext, parse_date, parse_flag
from jobs.runtime import glue_entry_point
from jobs.tables import (
    JOB_PROPERTY,
    LAYERS,
    RUN_ID_PROPERTY,
    LakeCatalog,
    TableRef,
    current_snapshot,
    iceberg_table,
    lake_catalog,
    lake_name,
    snapshot_summary,
    unstaged_write,
)
from jobs.text_table import render_table

JOB_NAME = "maintain_tables"
REQUIRED_ARGS = ["run_date"]
OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "pipeline": "maintenance", "now": None, "dry_run": "false",
                 "tables": None, "snapshot_days": None, "min_snapshots": None, "orphan_grace_hours": None}


@dataclass(frozen=True)
class Retention:
    """How long a layer keeps rows and snapshots.

    `rows_days`: rows whose date partition is older than the run date minus this are deleted (None:
    kept for ever). `snapshot_days` and `min_snapshots`: snapshots older than this are expired, but
    `main` keeps at least its newest `min_snapshots` (3 or more keeps a maintenance run's own
    retention delete reversible by `lakehouse rollback`).
    """

    rows_days: int | None
    snapshot_days: int
    min_snapshots: int


# The seed's retention (silver 1 year, gold 3 years). The quarantine holds raw copies of refused rows,
# so it keeps them as long as bronze keeps raw files (90 days, bronze's S3 lifecycle rule): an S3
# expiration cannot do it for a table, and bronze's noncurrent-version rule then removes the files
# that snapshot expiry deleted (infra/storage.py, docs/governance.md).
RETENTION: dict[str, Retention] = {
    "silver": Retention(rows_days=365, snapshot_days=7, min_snapshots=10),
    "quarantine": Retention(rows_days=90, snapshot_days=7, min_snapshots=10),
    "gold": Retention(rows_days=3 * 365, snapshot_days=7, min_snapshots=10),
}
ORPHAN_GRACE = timedelta(hours=72)  # no run writes for longer before it commits
MIN_ORPHAN_GRACE = timedelta(hours=24)  # below this only with an injected clock (a drill, a test)
COMPACTION_OPTIONS = {"min-input-files": "2"}  # a partition with 2+ small files is compacted into one


class MaintenanceError(RuntimeError):
    """A table could not be maintained (the message names it); the other tables were."""


@dataclass
class TableMaintenance:
    table: str
    rows_before: int
    rows_after: int = 0
    snapshot_before: int | None = None
    snapshot_after: int | None = None
    retention_cutoff: str | None = None
    rows_deleted: int = 0
    partitions_deleted: int = 0
    files_compacted: int = 0
    files_written_by_compaction: int = 0
    snapshots_expired: int = 0
    files_deleted_by_expiry: int = 0
    orphan_files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None


# --- what to do (pure) ----------------------------------------------------------------------------

def retention_cutoff(run_date: date, retention: Retention) -> date | None:
    return None if retention.rows_days is None else run_date - timedelta(days=retention.rows_days)


def older_than_predicate(partition_columns: list[tuple[str, str]], cutoff: date) -> Column | None:
    """Rows of partitions dated before `cutoff`, as a predicate on partition columns only (so the
    delete drops whole files, no rewrite): silver's `year`/`month`/`day` strings, or a table's first
    date partition. None when the table has no date partition (its rows are not aged)."""
    names = [name for name, _ in partition_columns]
    if {"year", "month", "day"} <= set(names):
        y, m, d = F.col("year"), F.col("month"), F.col("day")
        year, month, day = f"{cutoff:%Y}", f"{cutoff:%m}", f"{cutoff:%d}"
        return (y < year) | ((y == year) & (m < month)) | ((y == year) & (m == month) & (d < day))
    for name, type_name in partition_columns:
        if type_name == "date":
            return F.col(name) < F.lit(cutoff)
    return None


def expiry_plan(snapshots: list[dict[str, Any]], main_lineage: list[int], now: datetime,
                retention: Retention) -> list[int]:
    """Snapshot ids that expiry removes (what `--dry-run` reports): older than the retention, neither
    among `main`'s newest `min_snapshots` nor the current one. Iceberg decides the same way."""
    cutoff_ms = (now - timedelta(days=retention.snapshot_days)).timestamp() * 1000
    kept = set(main_lineage[:max(retention.min_snapshots, 1)])
    return [s["snapshot_id"] for s in snapshots if s["committed_at_ms"] < cutoff_ms and s["snapshot_id"] not in kept]


# --- Iceberg, through Spark -----------------------------------------------------------------------

def _actions(spark: SparkSession) -> Any:
    return spark.sparkContext._jvm.org.apache.iceberg.spark.actions.SparkActions.get(spark._jsparkSession)


def table_rows(spark: SparkSession, ref: TableRef, snapshot_id: int | None) -> int:
    """Rows of a snapshot, from its summary (no data read)."""
    if snapshot_id is None:
        return 0
    return int(snapshot_summary(spark, ref, snapshot_id).get("total-records", 0))


def partition_columns(spark: SparkSession, ref: TableRef) -> list[tuple[str, str]]:
    """(column, type) of the table's identity partition fields, in spec order."""
    table = iceberg_table(spark, ref)
    schema = spark.table(ref.identifier).schema
    types = {f.name: f.dataType.simpleString() for f in schema.fields}
    columns = []
    for spec_field in table.spec().fields():
        if str(spec_field.transform()) == "identity":
            name = table.schema().findColumnName(spec_field.sourceId())
            columns.append((name, types.get(name, "?")))
    return columns


def snapshot_ids(spark: SparkSession, ref: TableRef) -> set[int]:
    return {int(r[0]) for r in spark.sql(f"SELECT snapshot_id FROM {ref.identifier}.snapshots").collect()}


def snapshots_of(spark: SparkSession, ref: TableRef) -> tuple[list[dict[str, Any]], list[int]]:
    """Every snapshot (id, commit time in ms), and `main`'s lineage newest first."""
    rows = spark.sql(f"SELECT snapshot_id, committed_at FROM {ref.identifier}.snapshots").collect()
    snapshots = [{"snapshot_id": int(r[0]), "committed_at_ms": int(r[1].replace(tzinfo=UTC).timestamp() * 1000)}
                 for r in rows]
    lineage = [int(r[0]) for r in spark.sql(
        f"SELECT snapshot_id FROM {ref.identifier}.history WHERE is_current_ancestor "
        f"ORDER BY made_current_at DESC").collect()]
    return snapshots, lineage


def delete_old_partitions(spark: SparkSession, ref: TableRef, predicate: Column, run_id: str) -> int:
    """One commit that drops the partitions matching `predicate`; returns the rows it removed."""
    schema = spark.table(ref.identifier).schema
    before = current_snapshot(spark, ref)
    with unstaged_write():
        (spark.createDataFrame([], schema).writeTo(ref.identifier)
         .option(f"snapshot-property.{RUN_ID_PROPERTY}", run_id)
         .option(f"snapshot-property.{JOB_PROPERTY}", JOB_NAME)
         .overwrite(predicate))
    after = current_snapshot(spark, ref)
    if after is None or after == before:
        return 0
    return int(snapshot_summary(spark, ref, after).get("deleted-records", 0))


def compaction_candidates(spark: SparkSession, ref: TableRef) -> tuple[int, int]:
    """(partitions, files) that compaction would rewrite: partitions with several data files."""
    row = spark.sql(f"SELECT count(*), coalesce(sum(n), 0) FROM (SELECT partition, count(*) AS n "
                    f"FROM {ref.identifier}.files WHERE content = 0 GROUP BY partition HAVING count(*) > 1)").first()
    return int(row[0]), int(row[1])


def compact(spark: SparkSession, ref: TableRef, run_id: str) -> tuple[int, int]:
    """Bin-pack small files per partition (Iceberg's rewrite_data_files); (files rewritten, written)."""
    action = _actions(spark).rewriteDataFiles(iceberg_table(spark, ref))
    for key, value in COMPACTION_OPTIONS.items():
        action = action.option(key, value)
    with unstaged_write():
        result = (action.snapshotProperty(RUN_ID_PROPERTY, run_id).snapshotProperty(JOB_PROPERTY, JOB_NAME)
                  .execute())
    return int(result.rewrittenDataFilesCount()), int(result.addedDataFilesCount())


def expire(spark: SparkSession, ref: TableRef, now: datetime, retention: Retention) -> tuple[int, int]:
    """Expire snapshots (Iceberg's expire_snapshots); (snapshots expired, data files deleted)."""
    before = snapshot_ids(spark, ref)
    older_than = int((now - timedelta(days=retention.snapshot_days)).timestamp() * 1000)
    result = (_actions(spark).expireSnapshots(iceberg_table(spark, ref)).expireOlderThan(older_than)
              .retainLast(max(retention.min_snapshots, 1)).execute())
    return len(before - snapshot_ids(spark, ref)), int(result.deletedDataFilesCount())


def orphan_files(spark: SparkSession, ref: TableRef, older_than: datetime, dry_run: bool) -> list[str]:
    """Files under the table's location that no snapshot or metadata file references, written
    before `older_than`: listed (dry run) or deleted (Iceberg's DeleteOrphanFiles action).

    The action, not the `remove_orphan_files` procedure: the procedure measures its 24-hour floor
    against the wall clock, which an injected clock (`--now`) is not; `run` enforces the floor itself.
    """
    jvm = spark.sparkContext._jvm
    action = _actions(spark).deleteOrphanFiles(iceberg_table(spark, ref)).olderThan(int(older_than.timestamp() * 1000))
    if dry_run:
        action = action.deleteWith(jvm.java.util.stream.Stream.builder())  # collects the paths, deletes nothing
    return sorted(str(path) for path in action.execute().orphanFileLocations())


# --- the job --------------------------------------------------------------------------------------

def lake_tables(spark: SparkSession, catalog: LakeCatalog) -> list[TableRef]:
    """Every table of the lake in the catalog, as (layer, name) refs, sorted."""
    namespaces = [catalog.glue_database] if catalog.kind == "glue" else list(LAYERS)
    refs = []
    for namespace in namespaces:
        try:
            rows = spark.sql(f"SHOW TABLES IN {catalog.name}.{namespace}").collect()
        except Exception as error:  # a layer nothing has been written to yet
            if "NAMESPACE_NOT_FOUND" in str(error) or "NoSuchNamespace" in str(error):
                continue
            raise
        for row in rows:
            layer, name = lake_name(catalog.kind, namespace, row["tableName"])
            if layer in LAYERS:
                refs.append(catalog.table(layer, name))
    return sorted(refs, key=lambda r: r.display)


def maintain_table(spark: SparkSession, ref: TableRef, before: int | None, run_date: date, now: datetime,
                   retention: Retention, orphan_grace: timedelta, run_id: str, dry_run: bool) -> TableMaintenance:
    """Maintain one table whose `main` is at snapshot `before`."""
    outcome = TableMaintenance(ref.display, rows_before=table_rows(spark, ref, before), snapshot_before=before)
    cutoff = retention_cutoff(run_date, retention)
    partitioning = partition_columns(spark, ref)
    predicate = older_than_predicate(partitioning, cutoff) if cutoff else None
    if cutoff is not None:
        outcome.retention_cutoff = cutoff.isoformat()
    if predicate is None:
        outcome.notes.append("rows kept: " + ("no row retention for this layer" if cutoff is None
                                              else "the table has no date partition"))
    elif before is not None:
        old_partitions = spark.table(ref.identifier).where(predicate)
        outcome.partitions_deleted = old_partitions.select(*[c for c, _ in partitioning]).distinct().count()
        if dry_run:
            outcome.rows_deleted = old_partitions.count()
        elif outcome.partitions_deleted:
            outcome.rows_deleted = delete_old_partitions(spark, ref, predicate, run_id)
    if before is not None:
        if dry_run:
            partitions, files = compaction_candidates(spark, ref)
            outcome.files_compacted = files
            outcome.notes.append(f"would compact {files} file(s) in {partitions} partition(s)")
        else:
            outcome.files_compacted, outcome.files_written_by_compaction = compact(spark, ref, run_id)
    if dry_run:
        outcome.snapshots_expired = len(expiry_plan(*snapshots_of(spark, ref), now, retention))
    else:
        outcome.snapshots_expired, outcome.files_deleted_by_expiry = expire(spark, ref, now, retention)
    outcome.orphan_files = orphan_files(spark, ref, now - orphan_grace, dry_run)
    outcome.snapshot_after = current_snapshot(spark, ref)
    outcome.rows_after = table_rows(spark, ref, outcome.snapshot_after)
    expected = outcome.rows_before - (0 if dry_run else outcome.rows_deleted)
    if outcome.rows_after != expected:
        raise MaintenanceError(f"{ref.display}: {outcome.rows_after:,} rows after maintenance, expected "
                               f"{expected:,} ({outcome.rows_before:,} before, {outcome.rows_deleted:,} deleted by "
                               f"retention); snapshot {outcome.snapshot_after} is for `lakehouse rollback` to undo")
    return outcome


def parse_now(value: str | None) -> datetime:
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--now must be an ISO 8601 time (2025-01-31T03:00:00Z), got {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def retention_for(layer: str, args: dict[str, Any]) -> Retention:
    """The layer's retention, with `--snapshot_days` / `--min_snapshots` overriding it for this run."""
    retention = RETENTION[layer]
    if args.get("snapshot_days") not in (None, ""):
        retention = replace(retention, snapshot_days=int(args["snapshot_days"]))
    if args.get("min_snapshots") not in (None, ""):
        retention = replace(retention, min_snapshots=int(args["min_snapshots"]))
    return retention


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    ctx = JobContext.from_args({**args, "pipeline": args.get("pipeline") or "maintenance"})
    run_date = parse_date(str(args["run_date"]))
    now, dry_run = parse_now(args.get("now")), parse_flag(args.get("dry_run"))
    grace = (timedelta(hours=float(args["orphan_grace_hours"])) if args.get("orphan_grace_hours") not in (None, "")
             else ORPHAN_GRACE)
    if not args.get("now") and grace < MIN_ORPHAN_GRACE:
        raise ValueError(f"--orphan_grace_hours {grace.total_seconds() / 3600:g} is under "
                         f"{MIN_ORPHAN_GRACE.total_seconds() / 3600:g}: a run still writing could lose its files")
    catalog = lake_catalog(spark, ctx.layout, args)
    refs = lake_tables(spark, catalog)
    if args.get("tables"):
        wanted = {t.strip() for t in str(args["tables"]).split(",") if t.strip()}
        unknown = wanted - {r.display for r in refs}
        if unknown:
            raise ValueError(f"--tables names no table of this lake: {', '.join(sorted(unknown))} "
                             f"(tables: {', '.join(r.display for r in refs)})")
        refs = [r for r in refs if r.display in wanted]
    outcomes: list[TableMaintenance] = []
    for ref in refs:
        before = current_snapshot(spark, ref)
        try:
            outcomes.append(maintain_table(spark, ref, before, run_date, now, retention_for(ref.layer, args), grace,
                                           ctx.run_id, dry_run))
        except Exception as error:  # maintain the other tables; fail the run at the end
            # A step may have committed before another failed (a retention delete, then a compaction
            # conflict): keep both snapshots so that the manifest lets `rollback --run` undo it.
            outcomes.append(TableMaintenance(ref.display, rows_before=table_rows(spark, ref, before),
                                             snapshot_before=before, snapshot_after=current_snapshot(spark, ref),
                                             error=f"{type(error).__name__}: {error}"))
    report = {
        "job": JOB_NAME,
        "run_id": ctx.run_id,
        "run_date": run_date.isoformat(),
        "now": now.isoformat(timespec="seconds"),
        "dry_run": dry_run,
        "orphan_grace_hours": grace.total_seconds() / 3600,
        "retention": {layer: asdict(retention_for(layer, args)) for layer in LAYERS},
        "maintained": [asdict(o) for o in outcomes],
        # what finalize_run puts in the manifest's `tables` (so `lakehouse rollback --run` can undo it)
        "tables": {o.table: {"table": o.table, "snapshot_before": o.snapshot_before,
                             "snapshot_after": o.snapshot_after, "location": ref.location}
                   for o, ref in zip(outcomes, refs, strict=True)
                   if not dry_run and o.snapshot_after != o.snapshot_before},
        "duration_seconds": round(time.monotonic() - started, 3),
    }
    if not dry_run:
        storage.write_json(ctx.layout.job_report(ctx.pipeline, run_date, ctx.run_id, JOB_NAME), report)
    failed = [o for o in outcomes if o.error]
    if failed:
        raise MaintenanceError(f"{len(failed)} of {len(outcomes)} table(s) could not be maintained: "
                               + "; ".join(f"{o.table}: {o.error}" for o in failed))
    return report


def _report_row(table: dict[str, Any], dry: bool) -> tuple[str, ...]:
    if table["error"]:
        return (table["table"], "-", "-", f"FAILED: {table['error']}", "-", "-", "-")
    retention = (f"{table['rows_deleted']:,} in {table['partitions_deleted']} partition(s) < "
                 f"{table['retention_cutoff']}" if table["retention_cutoff"] else "kept (no retention)")
    compaction = (f"{table['files_compacted']} file(s)" if dry else
                  f"{table['files_compacted']} -> {table['files_written_by_compaction']} file(s)")
    expiry = f"{table['snapshots_expired']}" + ("" if dry else f" ({table['files_deleted_by_expiry']} files)")
    return (table["table"], f"{table['rows_before']:,}", f"{table['rows_after']:,}", retention, compaction, expiry,
            str(len(table["orphan_files"])))


def report_lines(report: dict[str, Any]) -> list[str]:
    """What `lakehouse maintain` prints: one line per table (`--json` prints the whole report)."""
    dry = report["dry_run"]
    lines = [f"maintenance {'plan (dry run: nothing changed)' if dry else 'run'} {report['run_id']} for "
             f"{report['run_date']} (clock {report['now']}, orphan grace {report['orphan_grace_hours']:g} h)",
             *render_table(("table", "rows", "after", "retention: rows deleted", "compaction", "snapshots expired",
                            "orphans"), [_report_row(table, dry) for table in report["maintained"]],
                           right=("rows", "after", "orphans"), indent=2).splitlines()]
    lines.append(f"  ({report['duration_seconds']:.1f} s; --json for every file and setting)")
    return lines


def main() -> dict[str, Any]:
    report = glue_entry_point(run, required=REQUIRED_ARGS, optional=OPTIONAL_ARGS)
    print(json.dumps(report, indent=2, sort_keys=True, default=str))
    return report


if __name__ == "__main__":
    main()
