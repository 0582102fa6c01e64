"""Migrate a lake written before its tables were Iceberg: register its Parquet files where they are.

Up to commit d3ab07c silver, gold and quarantine were plain folders of Parquet files, one folder per
partition (`<layer root>/<name>/<column>=<value>/.../part-*.parquet`), each published by swapping the
whole folder into place. Today each of them is an Iceberg table whose location is that same folder.
For every such folder this job:

1. creates the table exactly as today's job would (`jobs.tables.ensure_table`, with the owning job's
   description; the schema is the files' own, with the partition columns typed, ordered and completed
   as today's job writes them);
2. lists the published partition folders (a `_staging/` folder, a `*.old-<hex>` folder a swap left
   behind, or a file at the wrong depth is never registered, and is reported);
3. builds one Iceberg `DataFile` per Parquet file from its footer (Iceberg's `TableMigrationUtil`, as
   the `add_files` procedure does, with the table's name mapping), checks that they hold as many rows
   as Spark reads from the folders, and commits them in one append whose summary carries
   `lakehouse.run-id` (`migrate-<UTC time>`), so `lakehouse history` names it.

No data file is copied, rewritten or moved: the table refers to the files in place. A table that a
migration already filled is skipped; one that was created but not filled (a migration stopped between
steps 1 and 3) is filled; a table that today's jobs already wrote to while the folder still holds files
of the previous release is refused, with nothing changed.

Only the Spark-side Iceberg API is used (`add_files` itself cannot put a property in the snapshot's
summary); it runs the same with the Glue catalog, but listing the folders is local only for now.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from jobs.environment import in_s3
from jobs.lake import LakeLayout
from jobs.tables import (
    JOB_PROPERTY,
    RUN_ID_PROPERTY,
    LakeCatalog,
    TableRef,
    ensure_table,
    iceberg_table,
    job_table_description,
    lake_catalog,
    table_exists,
)

JOB_NAME = "migrate_tables"
NAME_MAPPING_PROPERTY = "schema.name-mapping.default"
# What Iceberg keeps inside a table's folder: never a partition of the previous release.
ICEBERG_FOLDERS = ("metadata", "data")
SWAP_LEFTOVER = ".old-"  # jobs/storage.replace_folder of the previous release: `<partition>.old-<hex>`

STRING, DATE, LONG = T.StringType(), T.DateType(), T.LongType()


@dataclass(frozen=True)
class LegacyTable:
    """A table as the previous release wrote it, and what today's job makes of it."""

    layer: str
    name: str
    partitions: tuple[tuple[str, T.DataType], ...]  # in folder order, typed as today's job writes them
    description: str
    columns: tuple[str, ...] = ()  # today's column order; empty: the files' own order
    added: tuple[T.StructField, ...] = ()  # columns today's job writes that the previous release did not

    @property
    def partition_columns(self) -> tuple[str, ...]:
        return tuple(column for column, _ in self.partitions)

    @property
    def display(self) -> str:
        return f"{self.layer}.{self.name}"


def legacy_tables(datasets: Sequence[str]) -> list[LegacyTable]:
    """Every table the previous release wrote, for these datasets (silver and quarantine) and the four
    gold tables. Names, descriptions and column orders come from today's jobs, so they cannot drift."""
    from jobs.bronze_to_silver import QUARANTINE_DESCRIPTION, SILVER_DESCRIPTION
    from jobs.gold.features import FEATURE_COLUMNS
    from jobs.gold.merchant_metrics import METRIC_COLUMNS
    from jobs.ml.feature_spec import LABEL_COLUMN
    from jobs.ml.features import OUTPUT_COLUMNS
    from jobs.silver.dedupe import PARTITION_COLUMNS
    from jobs.silver_to_gold import FEATURES_TABLE, METRICS_TABLE
    from jobs.silver_to_gold import JOB_NAME as GOLD_JOB
    from jobs.store_scores import FRAUD_SCORES_COLUMNS
    from jobs.store_scores import JOB_NAME as SCORES_JOB
    from jobs.store_scores import TABLE as SCORES_TABLE
    from jobs.training_set import JOB_NAME as TRAINING_JOB
    from jobs.training_set import PARTITION_COLUMNS as TRAINING_PARTITIONS
    from jobs.training_set import TABLE as TRAINING_TABLE

    # quarantine gained where a refused row was in its file (source_row, byte_offset) with the Iceberg tables
    located = (T.StructField("source_row", LONG), T.StructField("byte_offset", LONG))
    silver = [LegacyTable("silver", name, tuple((c, STRING) for c in PARTITION_COLUMNS),
                          SILVER_DESCRIPTION.format(name=name)) for name in datasets]
    quarantine = [LegacyTable("quarantine", name, (("ingest_date", DATE),),
                              QUARANTINE_DESCRIPTION.format(name=name), added=located) for name in datasets]
    gold = [
        LegacyTable("gold", FEATURES_TABLE, (("as_of_date", DATE),),
                    job_table_description("gold", FEATURES_TABLE, GOLD_JOB), FEATURE_COLUMNS),
        LegacyTable("gold", METRICS_TABLE, (("event_date", DATE),),
                    job_table_description("gold", METRICS_TABLE, GOLD_JOB), METRIC_COLUMNS),
        LegacyTable("gold", TRAINING_TABLE, tuple((c, STRING) for c in TRAINING_PARTITIONS),
                    job_table_description("gold", TRAINING_TABLE, TRAINING_JOB),
                    (*OUTPUT_COLUMNS, LABEL_COLUMN, *TRAINING_PARTITIONS)),
        LegacyTable("gold", SCORES_TABLE, (("event_date", STRING),),
                    job_table_description("gold", SCORES_TABLE, SCORES_JOB), FRAUD_SCORES_COLUMNS),
    ]
    return [*silver, *quarantine, *gold]


# --- pure: the folder's layout and the table's schema ---------------------------------------------

@dataclass(frozen=True)
class LegacyPartition:
    """One published partition folder and its Parquet files."""

    values: tuple[tuple[str, str], ...]  # (column, value as in the folder name), in folder order
    folder: str
    files: tuple[str, ...]
    bytes: int

    @property
    def name(self) -> str:
        return "/".join(f"{c}={v}" for c, v in self.values)


@dataclass(frozen=True)
class LegacyLayout:
    partitions: tuple[LegacyPartition, ...]
    ignored: tuple[str, ...]  # Parquet files under the folder that are not in a published partition

    @property
    def files(self) -> int:
        return sum(len(p.files) for p in self.partitions)

    @property
    def bytes(self) -> int:
        return sum(p.bytes for p in self.partitions)


def _partition_values(folders: Sequence[str], columns: Sequence[str]) -> tuple[tuple[str, str], ...] | None:
    """`year=2024/month=01/day=03` as (column, value) pairs when the folders are exactly the table's
    partition columns in order with a published value; None otherwise."""
    if len(folders) != len(columns):
        return None
    values = []
    for folder, column in zip(folders, columns, strict=True):
        name, eq, value = folder.partition("=")
        if not eq or name != column or not value or SWAP_LEFTOVER in value:
            return None
        values.append((column, value))
    return tuple(values)


def legacy_layout(root: str, files: Iterable[tuple[str, int]], columns: Sequence[str]) -> LegacyLayout:
    """Sort the Parquet files found under a table folder (paths relative to `root`, with sizes) into
    published partitions and the rest. Iceberg's own `metadata/` and `data/` are not looked at."""
    by_partition: dict[tuple[tuple[str, str], ...], list[tuple[str, int]]] = {}
    ignored = []
    for relative, size in sorted(files):
        parts = relative.split("/")
        if parts[0] in ICEBERG_FOLDERS:
            continue
        hidden = any(p.startswith(("_", ".")) for p in parts)
        values = None if hidden else _partition_values(parts[:-1], columns)
        if values is None:
            ignored.append(relative)
        else:
            by_partition.setdefault(values, []).append((relative, size))
    partitions = tuple(
        LegacyPartition(values, "/".join([root.rstrip("/"), *(f"{c}={v}" for c, v in values)]),
                        tuple(f"{root.rstrip('/')}/{r}" for r, _ in found), sum(s for _, s in found))
        for values, found in sorted(by_partition.items()))
    return LegacyLayout(partitions, tuple(ignored))


def target_schema(found: T.StructType, table: LegacyTable) -> T.StructType:
    """The schema today's job gives the table, from the schema Spark reads in the old folder (partition
    columns as strings): partition columns typed as today, columns added since appended, and today's
    column order where the job fixes one (columns it does not know stay, at the end). All nullable, as
    `ensure_table` creates every column."""
    types = dict(table.partitions)
    fields: dict[str, T.StructField] = {
        f.name: T.StructField(f.name, types.get(f.name, f.dataType), True) for f in found.fields}
    for column, data_type in table.partitions:
        fields.setdefault(column, T.StructField(column, data_type, True))
    for added in table.added:
        fields.setdefault(added.name, T.StructField(added.name, added.dataType, True))
    order = [c for c in table.columns if c in fields] + [c for c in fields if c not in table.columns]
    return T.StructType([fields[c] for c in order])


def migration_run_id(now: datetime | None = None) -> str:
    return f"migrate-{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}"


# --- I/O edge -------------------------------------------------------------------------------------

def list_parquet(folder: str) -> list[tuple[str, int]]:
    """Every `.parquet` file under a local folder: (path relative to it, size in bytes)."""
    if in_s3(folder):
        raise NotImplementedError("migrate lists local lakes only (see docs/tables.md, 'Migrating a lake')")
    found = []
    for directory, _, names in os.walk(folder):
        for name in names:
            if name.endswith(".parquet"):
                path = os.path.join(directory, name)
                found.append((os.path.relpath(path, folder).replace(os.sep, "/"), os.path.getsize(path)))
    return found


def _snapshots(spark: SparkSession, ref: TableRef) -> list[dict[str, Any]]:
    rows = spark.sql(f"SELECT snapshot_id, summary FROM {ref.identifier}.snapshots ORDER BY committed_at").collect()
    return [{"snapshot_id": int(r[0]), **dict(r[1] or {})} for r in rows]


def _with_name_mapping(spark: SparkSession, table: Any) -> None:
    """The files of the previous release carry no Iceberg field ids: readers find their columns by name
    (what `add_files` sets up too). Later schema updates keep the mapping up to date."""
    if table.properties().get(NAME_MAPPING_PROPERTY) is None:
        iceberg = spark._jvm.org.apache.iceberg
        mapping = iceberg.mapping.NameMappingParser.toJson(iceberg.mapping.MappingUtil.create(table.schema()))
        table.updateProperties().set(NAME_MAPPING_PROPERTY, mapping).commit()
        table.refresh()


def _data_files(spark: SparkSession, table: Any, partitions: Sequence[LegacyPartition]) -> list[Any]:
    """One Iceberg DataFile per Parquet file (path, size, rows and column metrics from its footer)."""
    jvm = spark._jvm
    iceberg = jvm.org.apache.iceberg
    conf = spark._jsc.hadoopConfiguration()
    metrics = iceberg.MetricsConfig.forTable(table)
    mapping = iceberg.mapping.NameMappingParser.fromJson(table.properties().get(NAME_MAPPING_PROPERTY))
    files = []
    for partition in partitions:
        values = jvm.java.util.LinkedHashMap()
        for column, value in partition.values:
            values.put(column, value)
        files.extend(iceberg.data.TableMigrationUtil.listPartition(
            values, partition.folder, "parquet", table.spec(), conf, metrics, mapping))
    return files


def _local(path: str) -> str:
    return path[len("file:"):] if path.startswith("file:") else path


@dataclass
class TableOutcome:
    table: str
    outcome: str  # migrated | would migrate | already migrated | nothing to migrate | refused
    location: str
    partitions: int = 0
    files: int = 0
    rows: int | None = None
    bytes: int = 0
    snapshot: int | None = None
    ignored: list[str] = field(default_factory=list)
    message: str = ""

    def report(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _migration_snapshot(snapshots: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    return next((s for s in snapshots if s.get(JOB_PROPERTY) == JOB_NAME), None)


def migrate_table(spark: SparkSession, catalog: LakeCatalog, table: LegacyTable, run_id: str,
                  dry_run: bool = False) -> TableOutcome:
    """Make one folder of the previous release an Iceberg table in place (see the module docstring)."""
    ref = catalog.table(table.layer, table.name)
    layout = legacy_layout(ref.location, list_parquet(ref.location), table.partition_columns)
    outcome = TableOutcome(table.display, "", ref.location, len(layout.partitions), layout.files,
                           bytes=layout.bytes, ignored=list(layout.ignored))
    exists = table_exists(spark, ref)
    snapshots = _snapshots(spark, ref) if exists else []
    done = _migration_snapshot(snapshots)
    if done is not None:
        outcome.outcome, outcome.snapshot = "already migrated", done["snapshot_id"]
        outcome.files, outcome.rows = int(done.get("added-data-files", 0)), int(done.get("added-records", 0))
        outcome.bytes = int(done.get("added-files-size", 0))
        outcome.message = f"by run {done.get(RUN_ID_PROPERTY)}; skipped"
        return outcome
    if not layout.partitions:
        outcome.outcome = "nothing to migrate"
        outcome.message = "already an Iceberg table" if snapshots else "no partition of the previous release"
        return outcome
    if snapshots:
        # The migration's own snapshot may have been expired by maintenance since: its files tell.
        referenced = {_local(r[0]) for r in spark.sql(f"SELECT file_path FROM {ref.identifier}.all_data_files")
                      .collect()}
        outside = [path for p in layout.partitions for path in p.files if _local(path) not in referenced]
        if not outside:
            outcome.outcome = "already migrated"
            outcome.message = "every file of the previous release is in the table; skipped"
            return outcome
        runs = sorted({s.get(RUN_ID_PROPERTY, "(unknown run)") for s in snapshots})
        outcome.outcome = "refused"
        outcome.message = (f"the table already exists and was written by run(s) {', '.join(runs)}, while its "
                           f"folder still holds {len(outside)} file(s) of the previous release that are not in "
                           "it. Nothing changed. Move the table aside (or drop it) and migrate again, or keep it "
                           "and leave the old files out.")
        return outcome

    # every column any file has (a `keep` column arrived on a later day is in the later files only)
    found = (spark.read.option("basePath", ref.location).option("mergeSchema", "true")
             .parquet(*[p.folder for p in layout.partitions]))
    outcome.rows = found.count()
    if dry_run:
        outcome.outcome = "would migrate"
        return outcome
    ensure_table(spark, ref, target_schema(found.schema, table), table.partition_columns, table.description)
    java_table = iceberg_table(spark, ref)
    spec = [str(f.name()) for f in java_table.spec().fields()]
    if spec != list(table.partition_columns):
        outcome.outcome = "refused"
        outcome.message = (f"the table exists, empty, partitioned by {spec or 'nothing'} instead of "
                           f"{list(table.partition_columns)}; nothing changed")
        return outcome
    _with_name_mapping(spark, java_table)
    data_files = _data_files(spark, java_table, layout.partitions)
    registered = {_local(str(f.path())) for f in data_files}
    listed = {_local(path) for p in layout.partitions for path in p.files}
    rows = sum(int(f.recordCount()) for f in data_files)
    if registered != listed or rows != outcome.rows:
        outcome.outcome = "refused"
        outcome.message = (f"the footers give {len(registered)} file(s) and {rows} row(s), the folder {len(listed)} "
                           f"file(s) and Spark {outcome.rows} row(s); nothing registered")
        return outcome
    append = java_table.newAppend()
    for data_file in data_files:
        append.appendFile(data_file)
    append.set(RUN_ID_PROPERTY, run_id).set(JOB_PROPERTY, JOB_NAME).commit()
    summary = dict(java_table.currentSnapshot().summary())
    outcome.outcome, outcome.snapshot = "migrated", int(java_table.currentSnapshot().snapshotId())
    outcome.files, outcome.rows = int(summary["added-data-files"]), int(summary["added-records"])
    outcome.bytes = int(summary["added-files-size"])
    return outcome


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    """Migrate every table of the lake (`--lake_root`, or the per-layer roots); `dry_run` changes nothing."""
    from jobs.contracts import list_datasets
    from jobs.storage import write_json

    dry_run = str(args.get("dry_run", "")).strip().lower() in {"1", "true", "yes", "y"}
    run_id = str(args.get("run_id") or migration_run_id())
    layout = LakeLayout.from_args(args)
    catalog = lake_catalog(spark, layout, args)
    outcomes = [migrate_table(spark, catalog, table, run_id, dry_run)
                for table in legacy_tables(list_datasets())]
    report = {"job": JOB_NAME, "run_id": run_id, "dry_run": dry_run,
              "tables": [o.report() for o in outcomes],
              "refused": [o.table for o in outcomes if o.outcome == "refused"]}
    if not dry_run:
        today = datetime.now(UTC).date()
        report["report_path"] = layout.job_report("migrate", today, run_id, JOB_NAME)
        write_json(report["report_path"], report)
    return report


def report_lines(report: dict[str, Any]) -> list[str]:
    """One line per table (what was done, files, rows, bytes), then what was left out and why."""
    verb = "dry run, nothing changed" if report["dry_run"] else f"run {report['run_id']}"
    lines = [f"migrate ({verb}):"]
    for t in report["tables"]:
        rows = f"{t['rows']:,}" if t["rows"] is not None else "-"
        counts = f"{t['partitions']:>4} partition(s) {t['files']:>5} file(s) {rows:>10} rows {t['bytes']:>12,} bytes"
        if t["outcome"] == "nothing to migrate":
            counts = ""
        snapshot = f"  snapshot {t['snapshot']}" if t["snapshot"] else ""
        lines.append(f"  {t['table']:<32} {t['outcome']:<18} {counts}{snapshot}".rstrip())
        if t["message"]:
            lines.append(f"      {t['message']}")
        if t["ignored"]:
            shown = ", ".join(t["ignored"][:3]) + (", ..." if len(t["ignored"]) > 3 else "")
            lines.append(f"      left out ({len(t['ignored'])} file(s) outside published partitions, "
                         f"not registered): {shown}")
    if report.get("report_path"):
        lines.append(f"  report: {report['report_path']}")
    return lines
