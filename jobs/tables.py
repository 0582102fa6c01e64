"""Iceberg tables: the one module that knows the table format and the catalog.

Silver, gold and quarantine are Apache Iceberg v2 tables (Glue 5.0's 1.7.1), Parquet + snappy, each at
`<layer root>/<name>/` with Iceberg's own `metadata/` and `data/` inside. Which catalog holds them is the
job environment's decision (jobs/environment.py `CatalogChoice`); this module configures it:

- locally: Iceberg's JDBC catalog on a SQLite file inside the lake (`<lake>/catalog/iceberg.db`), no
  server; namespaces `silver`, `gold`, `quarantine` (`lake.silver.transactions` in Spark SQL);
- on AWS (or `--catalog glue` against an emulator): the Glue Data Catalog with S3FileIO; one Glue
  database (`--glue_database`) holding `silver_transactions`, `gold_customer_features`, ...

A run writes each table once, as a *staged* snapshot (Iceberg write-audit-publish: `spark.wap.id`),
audits it, then publishes it with a cherry-pick, which for a snapshot staged on the current state is a
fast-forward of `main` to exactly the audited snapshot. Every snapshot carries the run id in its summary.
Writes validate against the snapshot the run read (`validate-from-snapshot-id`, serializable isolation),
so a run that computed its content from an older state of a table never publishes over a newer one.
"""

from __future__ import annotations

import functools
import operator
import os
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.environment import AwsEndpoints, CatalogChoice

SPARK_CATALOG_IMPL = "org.apache.iceberg.spark.SparkCatalog"
RUN_ID_PROPERTY = "lakehouse.run-id"
JOB_PROPERTY = "lakehouse.job"
LAYERS = ("silver", "gold", "quarantine")
TABLE_PROPERTIES: dict[str, str] = {
    "format-version": "2",
    "write.format.default": "parquet",
    "write.parquet.compression-codec": "snappy",
    "write.wap.enabled": "true",
    # Readers given only the folder (DuckDB, a person) find the newest metadata by its name.
    "write.metadata.delete-after-commit.enabled": "false",
}


class TableConflictError(RuntimeError):
    """Another run committed to a table after this run read it (the message names table and run)."""


class StagedSnapshotRefused(RuntimeError):
    """The audit refused a staged snapshot: `main` was left as it was (the message names the snapshot)."""


def _is_conflict(error: Exception) -> bool:
    """Another commit won: Iceberg's validation or optimistic-commit failures, and SQLite refusing the
    embedded catalog's pointer update while another process writes it (the update did not happen)."""
    text = str(error)
    return any(marker in text for marker in (
        "ValidationException", "CommitFailedException", "Cannot cherry-pick", "Found conflicting files",
        "SQLITE_BUSY", "database is locked"))


@dataclass(frozen=True)
class TableRef:
    """A table: where Spark finds it (`identifier`), and where its folder is (`location`)."""

    catalog: str
    namespace: str
    name: str
    location: str
    layer: str

    @property
    def identifier(self) -> str:
        return f"{self.catalog}.{self.namespace}.{self.name}"

    @property
    def in_catalog(self) -> str:
        """The name inside the catalog, as Iceberg's procedures take it."""
        return f"{self.namespace}.{self.name}"

    @property
    def display(self) -> str:
        return f"{self.layer}.{self.location.rstrip('/').rsplit('/', 1)[-1]}"


@dataclass(frozen=True)
class LakeCatalog:
    """The catalog a run uses; `table()` names every table the same way on both sides."""

    name: str
    kind: str  # "local" (JDBC on SQLite) or "glue"
    properties: Mapping[str, str]
    roots: Mapping[str, str]  # layer -> root folder or bucket
    glue_database: str | None = None
    _registered: set[str] = field(default_factory=set, compare=False, hash=False)

    def table(self, layer: str, name: str) -> TableRef:
        namespace, table_name = name_in_catalog(self.kind, layer, name, self.glue_database)
        return TableRef(self.name, namespace, table_name, f"{self.roots[layer].rstrip('/')}/{name}", layer)


def name_in_catalog(kind: str, layer: str, name: str, glue_database: str | None = None) -> tuple[str, str]:
    """(namespace, table name) of a lake table: `silver`, `transactions` in the embedded catalog;
    `<glue_database>`, `silver_transactions` in the Glue Data Catalog (one database per deployment)."""
    if layer not in LAYERS:
        raise ValueError(f"no table layer {layer!r}; layers with tables: {', '.join(LAYERS)}")
    if kind == "glue":
        if not glue_database:
            raise ValueError("the Glue Data Catalog needs a database name (--glue_database)")
        return glue_database, f"{layer}_{name}"
    return layer, name


def lake_name(kind: str, namespace: str, table_name: str) -> tuple[str, str]:
    """The inverse of `name_in_catalog`: (layer, name) of a catalog table."""
    if kind == "glue":
        layer, _, name = table_name.partition("_")
        return layer, name
    return namespace, table_name


# The JDBC catalog's own tables (Iceberg's schema "V0", which pyiceberg's SqlCatalog reads too).
CATALOG_TABLES_DDL = (
    "CREATE TABLE IF NOT EXISTS iceberg_tables (catalog_name VARCHAR(255) NOT NULL, "
    "table_namespace VARCHAR(255) NOT NULL, table_name VARCHAR(255) NOT NULL, metadata_location VARCHAR(1000), "
    "previous_metadata_location VARCHAR(1000), PRIMARY KEY (catalog_name, table_namespace, table_name))",
    "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties (catalog_name VARCHAR(255) NOT NULL, "
    "namespace VARCHAR(255) NOT NULL, property_key VARCHAR(255), property_value VARCHAR(1000), "
    "PRIMARY KEY (catalog_name, namespace, property_key))",
)


def create_catalog_database(path: str) -> None:
    """Create the embedded catalog's SQLite file, in write-ahead-log mode.

    Iceberg 1.7.1's JdbcCatalog, when it creates or checks these tables itself, leaves a metadata
    query's result set open on a pooled connection: on SQLite that is a read transaction held for
    the life of the process, which blocks (rollback journal) or strands (WAL) every commit once
    another process has committed. So the set-up is done here, and the catalog is told not to
    (`jdbc.init-catalog-tables=false`, schema V0, whose check reads no row).
    """
    import sqlite3

    with sqlite3.connect(path, timeout=30) as database:
        database.execute("PRAGMA journal_mode=WAL")
        for statement in CATALOG_TABLES_DDL:
            database.execute(statement)


def local_catalog_properties(catalog_root: str) -> dict[str, str]:
    """Iceberg's JDBC catalog on a SQLite file: no server, one file in the lake, commits by an atomic
    compare-and-swap of the table's metadata pointer (SQLite serialises concurrent writers)."""
    os.makedirs(catalog_root, exist_ok=True)
    create_catalog_database(f"{catalog_root}/iceberg.db")
    return {
        "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
        "uri": f"jdbc:sqlite:{catalog_root}/iceberg.db",
        "jdbc.init-catalog-tables": "false",
        # a second process committing waits for the lock instead of failing at once
        "jdbc.busy_timeout": "30000",
        "warehouse": f"file:{catalog_root}/warehouse",
        # every load sees the newest commit, including one made by another process
        "cache-enabled": "false",
    }


def glue_catalog_properties(warehouse: str, endpoints: AwsEndpoints | None = None) -> dict[str, str]:
    """The Glue Data Catalog with S3FileIO; an emulator's endpoints (`AwsEndpoints`) are honoured."""
    endpoints = endpoints or AwsEndpoints.from_environ()
    properties = {
        "catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
        "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
        "warehouse": warehouse.replace("s3a://", "s3://"),
        "cache-enabled": "false",
        "glue.skip-archive": "true",
    }
    if endpoints.default:
        properties.update({"glue.endpoint": endpoints.glue or endpoints.default,
                           "s3.endpoint": endpoints.s3 or endpoints.default,
                           "s3.path-style-access": "true"})
    if endpoints.region:
        properties["client.region"] = endpoints.region
    return properties


def choose_catalog_kind(args: Mapping[str, Any]) -> str:
    """`local` or `glue`: decided by the job's environment (`CatalogChoice.from_args`)."""
    return CatalogChoice.from_args(args).kind


CATALOG_NAME = "lake"
_PROPERTY_KEYS = {"catalog-impl", "uri", "jdbc.init-catalog-tables", "jdbc.busy_timeout", "warehouse", "cache-enabled",
                  "io-impl", "glue.skip-archive", "glue.endpoint", "s3.endpoint", "s3.path-style-access",
                  "client.region", "lakehouse-identity"}


def lake_catalog(spark: SparkSession, layout: Any, args: Mapping[str, Any] | None = None) -> LakeCatalog:
    """Register the catalog for this lake as `lake` in the session, and return it.

    The name is the same in every process (the embedded catalog records it with each table, and
    pyiceberg opens it by that name). A session that moves to another lake (tests do) re-points
    `lake` and resets Spark's catalog manager, so the next statement loads the new catalog.
    """
    args = args or {}
    choice = CatalogChoice.from_args(args)
    kind = choice.kind
    roots = {layer: getattr(layout, layer) for layer in LAYERS}
    if kind == "glue":
        properties = glue_catalog_properties(layout.silver)
        identity = f"glue:{choice.glue_database}"
    else:
        properties = local_catalog_properties(layout.catalog)
        identity = properties["uri"]
    prefix = f"spark.sql.catalog.{CATALOG_NAME}"
    registered = spark.conf.get(f"{prefix}.lakehouse-identity", None)
    if registered != identity:
        for key in _PROPERTY_KEYS:
            spark.conf.unset(f"{prefix}.{key}")
        spark.conf.set(prefix, SPARK_CATALOG_IMPL)
        for key, value in {**properties, "lakehouse-identity": identity}.items():
            spark.conf.set(f"{prefix}.{key}", value)
        if registered is not None:
            spark._jsparkSession.sessionState().catalogManager().reset()  # drop the loaded catalog
    return LakeCatalog(CATALOG_NAME, kind, properties, roots, glue_database=choice.glue_database)


# --- reading --------------------------------------------------------------------------------------

def table_exists(spark: SparkSession, ref: TableRef) -> bool:
    try:
        spark.sql(f"DESCRIBE TABLE {ref.identifier}").collect()
    except Exception as error:
        missing = ("TABLE_OR_VIEW_NOT_FOUND", "NoSuchTable", "not found",
                   "without view support")  # the embedded catalog, asked for a view once no table matched
        if any(marker in str(error) for marker in missing):
            return False
        raise
    return True


def current_snapshot(spark: SparkSession, ref: TableRef) -> int | None:
    """The snapshot `main` points at; None for a missing or never-written table."""
    if not table_exists(spark, ref):
        return None
    row = spark.sql(f"SELECT snapshot_id FROM {ref.identifier}.refs WHERE name = 'main'").first()
    return None if row is None else int(row[0])


def read_table(spark: SparkSession, ref: TableRef, snapshot_id: int | None = None) -> DataFrame:
    """The table's rows at `snapshot_id` (the current `main` when None)."""
    if snapshot_id is None:
        return spark.table(ref.identifier)
    return spark.sql(f"SELECT * FROM {ref.identifier} VERSION AS OF {int(snapshot_id)}")


def read_if_exists(spark: SparkSession, ref: TableRef, snapshot_id: int | None = None) -> DataFrame | None:
    """None when the table does not exist or has no snapshot yet."""
    snapshot = snapshot_id if snapshot_id is not None else current_snapshot(spark, ref)
    return None if snapshot is None else read_table(spark, ref, snapshot)


def iceberg_table(spark: SparkSession, ref: TableRef) -> Any:
    """The table's Iceberg Java object (for Iceberg's Spark actions and its migration utilities)."""
    return spark.sparkContext._jvm.org.apache.iceberg.spark.Spark3Util.loadIcebergTable(
        spark._jsparkSession, ref.identifier)


def snapshot_summary(spark: SparkSession, ref: TableRef, snapshot_id: int) -> dict[str, str]:
    row = spark.sql(f"SELECT summary FROM {ref.identifier}.snapshots WHERE snapshot_id = {int(snapshot_id)}").first()
    return {} if row is None else dict(row[0])


def runs_since(spark: SparkSession, ref: TableRef, snapshot_id: int | None) -> list[str]:
    """Run ids of the snapshots `main` gained after `snapshot_id` (oldest first)."""
    rows = spark.sql(
        f"SELECT h.snapshot_id, s.summary FROM {ref.identifier}.history h JOIN {ref.identifier}.snapshots s "
        f"ON h.snapshot_id = s.snapshot_id WHERE h.is_current_ancestor ORDER BY h.made_current_at").collect()
    ids = [int(r[0]) for r in rows]
    start = ids.index(snapshot_id) + 1 if snapshot_id in ids else 0
    return [dict(r[1]).get(RUN_ID_PROPERTY, "(unknown run)") for r in rows[start:]]


# --- creating -------------------------------------------------------------------------------------

def _ddl(schema: T.StructType) -> str:
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields)


def ensure_table(spark: SparkSession, ref: TableRef, schema: T.StructType, partition_columns: Sequence[str],
                 description: str = "") -> None:
    """Create the table at its location if missing; add columns the data brings that it lacks (nullable).

    Renames, type changes and drops are schema evolution proper, decided per table, not here.
    """
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {ref.catalog}.{ref.namespace}")
    properties = {**TABLE_PROPERTIES, "comment": description} if description else TABLE_PROPERTIES
    props = ", ".join(f"'{k}'='{v}'" for k, v in properties.items())
    partitioning = f"PARTITIONED BY ({', '.join(f'`{c}`' for c in partition_columns)})" if partition_columns else ""
    location = ref.location.replace("s3a://", "s3://")
    if not table_exists(spark, ref):
        try:
            spark.sql(f"CREATE TABLE {ref.identifier} ({_ddl(schema)}) USING iceberg {partitioning} "
                      f"LOCATION '{location}' TBLPROPERTIES ({props})")
            return
        except Exception as error:  # another run created it first
            if "already exists" not in str(error).lower() and "AlreadyExists" not in str(error):
                raise
    existing = {f.name for f in spark.table(ref.identifier).schema.fields}
    added = [f for f in schema.fields if f.name not in existing]
    if added:
        spark.sql(f"ALTER TABLE {ref.identifier} ADD COLUMNS ({_ddl(T.StructType(added))})")


def aligned_to_table(spark: SparkSession, ref: TableRef, df: DataFrame) -> DataFrame:
    """`df` with the table's columns in the table's order (a column it lacks is null)."""
    present = set(df.columns)
    return df.select(*[F.col(f.name) if f.name in present else F.lit(None).cast(f.dataType).alias(f.name)
                       for f in spark.table(ref.identifier).schema.fields])


# --- write, audit, publish ------------------------------------------------------------------------

@dataclass
class StagedWrite:
    """A snapshot written but not yet visible on `main`."""

    ref: TableRef
    snapshot_before: int | None
    staged_snapshot: int
    run_id: str

    def rows(self, spark: SparkSession) -> DataFrame:
        return read_table(spark, self.ref, self.staged_snapshot)


# `spark.wap.id` is a setting of the whole SparkSession, read when a write is planned. Job runs that
# share a session (a wave's datasets or parallel backfill dates, run locally) would stage each other's
# writes under the wrong id, or onto `main` once another run unset it; so staged writes take turns.
# On Glue every job run has its own session and the lock is never contended.
_staged_writes = threading.Lock()


@contextmanager
def _wap(spark: SparkSession, wap_id: str) -> Iterator[None]:
    with _staged_writes:
        spark.conf.set("spark.wap.id", wap_id)
        try:
            yield
        finally:
            spark.conf.unset("spark.wap.id")


@contextmanager
def unstaged_write() -> Iterator[None]:
    """A commit straight to `main` (maintenance), taken in turn with staged writes: no other run's
    `spark.wap.id` is set in the session meanwhile, so it cannot be staged by mistake."""
    with _staged_writes:
        yield


def stage_overwrite(spark: SparkSession, ref: TableRef, df: DataFrame, replaced: Column | None, *,
                    run_id: str, job: str, read_snapshot: int | None) -> StagedWrite:
    """Stage one snapshot that deletes the rows matching `replaced` and adds `df`'s rows.

    `replaced` must be a predicate on partition columns (whole partitions are replaced; None: add
    only). `read_snapshot` is the snapshot the run computed `df` from: a commit by another run since
    then, in the replaced partitions, makes this write fail (TableConflictError) instead of losing it.
    """
    wap_id = f"{run_id}/{uuid.uuid4().hex[:12]}"
    writer = (aligned_to_table(spark, ref, df).writeTo(ref.identifier)
              .option(f"snapshot-property.{RUN_ID_PROPERTY}", run_id)
              .option(f"snapshot-property.{JOB_PROPERTY}", job))
    if read_snapshot is not None:
        writer = writer.option("isolation-level", "serializable").option("validate-from-snapshot-id",
                                                                         str(read_snapshot))
    try:
        with _wap(spark, wap_id):
            if replaced is None:
                writer.append()
            else:
                writer.overwrite(replaced)
    except Exception as error:
        if _is_conflict(error):
            raise _conflict(spark, ref, read_snapshot, run_id) from error
        raise
    row = spark.sql(f"SELECT snapshot_id FROM {ref.identifier}.snapshots "
                    f"WHERE summary['wap.id'] = '{wap_id}'").first()
    if row is None:
        raise RuntimeError(f"{ref.display}: the staged snapshot of run {run_id} was not found")
    return StagedWrite(ref, read_snapshot, int(row[0]), run_id)


def job_table_description(layer: str, name: str, job: str) -> str:
    """The comment a table gets from the job that owns it (`stage_table_write`), e.g.
    `gold customer_features (lakehouse silver_to_gold)`."""
    return f"{layer} {name} (lakehouse {job})"


def stage_table_write(spark: SparkSession, ref: TableRef, df: DataFrame, partition_columns: Sequence[str],
                      replaced: Column, *, run_id: str, job: str) -> StagedWrite:
    """A job that owns its table outright: create it if missing, then stage `df` replacing `replaced`,
    validated against the snapshot current now (the job read nothing else of it)."""
    ensure_table(spark, ref, df.schema, partition_columns,
                 job_table_description(ref.layer, ref.display.split(".", 1)[1], job))
    return stage_overwrite(spark, ref, df, replaced, run_id=run_id, job=job,
                           read_snapshot=current_snapshot(spark, ref))


def publish(spark: SparkSession, staged: StagedWrite) -> int:
    """Make the audited snapshot current on `main`; returns the snapshot `main` now points at."""
    ref = staged.ref
    try:
        spark.sql(f"CALL {ref.catalog}.system.cherrypick_snapshot(table => '{ref.in_catalog}', "
                  f"snapshot_id => {staged.staged_snapshot})").collect()
    except Exception as error:
        if _is_conflict(error):
            raise _conflict(spark, ref, staged.snapshot_before, staged.run_id) from error
        raise
    after = current_snapshot(spark, ref)
    assert after is not None
    return after


def _conflict(spark: SparkSession, ref: TableRef, read_snapshot: int | None, run_id: str) -> TableConflictError:
    others = [r for r in runs_since(spark, ref, read_snapshot) if r != run_id] or ["(another run)"]
    return TableConflictError(
        f"table {ref.display} changed while run {run_id} was writing it: run(s) {', '.join(others)} committed "
        f"after snapshot {read_snapshot} that this run read; nothing of this run was published to it. "
        f"Re-run the date: runs are idempotent.")


def partition_predicate(columns: Sequence[str], partitions: Sequence[Sequence[Any]]) -> Column:
    """`(c1 = v1 AND c2 = v2) OR ...`: Iceberg turns it into whole-partition deletes. False when empty."""
    clauses = []
    for values in partitions:
        equalities = [F.col(column) == F.lit(value) for column, value in zip(columns, values, strict=True)]
        clauses.append(functools.reduce(operator.and_, equalities))
    return functools.reduce(operator.or_, clauses) if clauses else F.lit(False)


def lake_table(spark: SparkSession, lake: Any, layer: str, name: str, snapshot_id: int | None = None,
               args: Mapping[str, Any] | None = None) -> DataFrame:
    """A table of a lake (a local root folder or a LakeLayout) as a DataFrame: the way to read one
    from a notebook or a test, `lake_table(spark, "lake", "silver", "transactions")`."""
    from jobs.lake import LakeLayout

    layout = lake if isinstance(lake, LakeLayout) else LakeLayout.from_root(str(lake))
    ref = lake_catalog(spark, layout, args).table(layer, name)
    if not table_exists(spark, ref):
        raise LookupError(f"no table {layer}.{name} in the lake at {layout.silver.rsplit('/', 1)[0]}")
    return read_table(spark, ref, snapshot_id)
