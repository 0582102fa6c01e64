"""The lake's Iceberg tables outside Spark: list, history, rollback, and loads into pandas or DuckDB.

pyiceberg opens the same catalog the jobs write: the embedded SQLite catalog of a local lake
(`<lake>/catalog/iceberg.db`), or the Glue Data Catalog (`--target aws`). No JVM starts, so
`lakehouse history` and `rollback` answer in about a second.
"""

from __future__ import annotations

import glob
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs.lake import LakeLayout
from jobs.storage import list_files, read_json
from jobs.tables import LAYERS, RUN_ID_PROPERTY, lake_name, name_in_catalog
from jobs.text_table import render_table


class RollbackRefused(RuntimeError):
    """A rollback that cannot be done as asked (the message says why and names the run in the way)."""


@dataclass(frozen=True)
class LakeTables:
    """A lake's catalog, opened with pyiceberg."""

    catalog: Any
    kind: str  # local | glue
    glue_database: str | None = None

    def identifier(self, layer: str, name: str) -> tuple[str, str]:
        return name_in_catalog(self.kind, layer, name, self.glue_database)

    def load(self, table: str) -> Any:
        """`table` is `layer.name` (`silver.transactions`)."""
        layer, _, name = table.partition(".")
        if not name:
            raise ValueError(f"name a table as layer.name (e.g. silver.transactions), got {table!r}")
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.catalog.load_table(self.identifier(layer, name))
        except NoSuchTableError:
            known = ", ".join(self.names()) or "none yet"
            raise LookupError(f"no table {table} in this lake (tables: {known})") from None

    def names(self) -> list[str]:
        """Every lake table as `layer.name`, sorted."""
        namespaces = [self.glue_database] if self.kind == "glue" else [
            ns[0] for ns in self.catalog.list_namespaces() if ns and ns[0] in LAYERS]
        found = []
        for namespace in namespaces:
            for identifier in self.catalog.list_tables(namespace):
                layer, name = lake_name(self.kind, identifier[0], identifier[-1])
                if layer in LAYERS:
                    found.append(f"{layer}.{name}")
        return sorted(found)


def open_local(lake_root: str | Path) -> LakeTables:
    from pyiceberg.catalog.sql import SqlCatalog

    layout = LakeLayout.from_root(str(lake_root))
    database = Path(layout.catalog) / "iceberg.db"
    if not database.exists():
        raise LookupError(f"no table catalog at {database}: nothing has been ingested into {lake_root} yet")
    # The embedded catalog uses Iceberg's "v0" catalog schema on purpose (jobs/tables.create_catalog_database);
    # pyiceberg reads it as it is and says so at warning level, which is not news to anyone here.
    logging.getLogger("pyiceberg.catalog.sql").setLevel(logging.ERROR)
    catalog = SqlCatalog("lake", uri=f"sqlite:///{database}", warehouse=f"file://{layout.catalog}/warehouse")
    return LakeTables(catalog, "local")


def open_glue(database: str, region: str | None = None) -> LakeTables:
    """The Glue Data Catalog (`AWS_ENDPOINT_URL` points it and S3 at an emulator)."""
    from pyiceberg.catalog.glue import GlueCatalog

    properties: dict[str, str] = {}
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:
        properties.update({"glue.endpoint": endpoint, "s3.endpoint": endpoint})
    if region:
        properties.update({"glue.region": region, "s3.region": region})
    return LakeTables(GlueCatalog("glue", **properties), "glue", database)


def open_lake(lake_root: str | Path | None = None, target: str = "local", glue_database: str | None = None,
              region: str | None = None) -> LakeTables:
    if target == "aws":
        if not glue_database:
            raise ValueError("--target aws needs --glue-database (the deployment's Glue database)")
        return open_glue(glue_database, region)
    return open_local(lake_root or "lake")


# --- history --------------------------------------------------------------------------------------

def utc_time(ms: int) -> str:
    """An Iceberg timestamp (ms since the epoch) as `YYYY-MM-DD hh:mm:ss` UTC."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def history(table: Any) -> list[dict[str, Any]]:
    """Every snapshot of the table, oldest first: when it was made, by which run, what it changed,
    and where it stands (`current`, `published`, `rolled back`, or `staged` when never published)."""
    metadata = table.metadata
    current = metadata.current_snapshot_id
    ancestors, snapshot = set(), table.current_snapshot()
    while snapshot is not None:
        ancestors.add(snapshot.snapshot_id)
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    published = {entry.snapshot_id for entry in metadata.snapshot_log}
    rows = []
    for snapshot in sorted(metadata.snapshots, key=lambda s: s.timestamp_ms):
        summary = snapshot.summary.additional_properties if snapshot.summary else {}
        operation = snapshot.summary.operation.value if snapshot.summary else "?"
        if snapshot.snapshot_id == current:
            state = "current"
        elif snapshot.snapshot_id in ancestors:
            state = "published"
        elif snapshot.snapshot_id in published:
            state = "rolled back"
        else:
            state = "staged"
        rows.append({"snapshot_id": snapshot.snapshot_id, "committed_at": utc_time(snapshot.timestamp_ms),
                     "run_id": summary.get(RUN_ID_PROPERTY, ""), "operation": operation,
                     "rows_added": int(summary.get("added-records", 0)),
                     "rows_removed": int(summary.get("deleted-records", 0)),
                     "total_rows": int(summary.get("total-records", 0)), "state": state})
    return rows


def history_lines(table_name: str, rows: Sequence[dict[str, Any]]) -> list[str]:
    table = render_table(
        ("committed (UTC)", "snapshot", "state", "operation", "+rows", "-rows", "total", "run"),
        [(r["committed_at"], r["snapshot_id"], r["state"], r["operation"], f"{r['rows_added']:,}",
          f"{r['rows_removed']:,}", f"{r['total_rows']:,}", r["run_id"]) for r in rows],
        right=("snapshot", "+rows", "-rows", "total"), indent=2)
    return [f"{table_name}: {len(rows)} snapshot(s), oldest first", *table.splitlines()]


# --- rollback -------------------------------------------------------------------------------------

def run_manifest(layout: LakeLayout, run_id: str) -> dict[str, Any]:
    """The manifest of run `run_id`, whatever its pipeline and date."""
    matches = [f for f in list_files(layout.manifests_root(), (".json",)) if Path(f).stem == run_id]
    if not matches:
        raise RollbackRefused(f"no run manifest for run {run_id} under {layout.manifests_root()}")
    if len(matches) > 1:
        raise RollbackRefused(f"run id {run_id} names {len(matches)} manifests: {', '.join(matches)}")
    return read_json(matches[0])


def _run_of(table: Any, snapshot_id: int | None) -> str:
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    if snapshot is None or snapshot.summary is None:
        return "(unknown run)"
    return snapshot.summary.additional_properties.get(RUN_ID_PROPERTY, "(a commit made outside lakehouse)")


@dataclass
class TableRollback:
    table: str
    handle: Any
    snapshot_before: int | None
    snapshot_after: int


def plan_rollback(lake: LakeTables, manifest: dict[str, Any]) -> list[TableRollback]:
    """Check every table the run changed; refuse (naming the run) if any has moved on since."""
    commits = manifest.get("tables") or {}
    if not commits:
        raise RollbackRefused(f"run {manifest.get('run_id')} committed to no table (its manifest lists none)")
    plan, later, expired = [], [], []
    for name, commit in sorted(commits.items()):
        handle = lake.load(name)
        current = handle.metadata.current_snapshot_id
        if current == commit["snapshot_before"]:
            continue  # already rolled back
        if current != commit["snapshot_after"]:
            later.append(f"{name} (now at snapshot {current}, committed by run {_run_of(handle, current)})")
            continue
        before = commit["snapshot_before"]
        if before is not None and handle.snapshot_by_id(before) is None:
            expired.append(f"{name} (snapshot {before})")
            continue
        plan.append(TableRollback(name, handle, before, commit["snapshot_after"]))
    if expired:
        raise RollbackRefused(
            f"run {manifest.get('run_id')} cannot be rolled back: the snapshot before it has been expired by table "
            f"maintenance in " + "; ".join(expired) + " (rollback works within the snapshot retention, see "
            "`lakehouse describe`). Re-run the dates instead; nothing was changed.")
    if later:
        raise RollbackRefused(
            f"run {manifest.get('run_id')} cannot be rolled back: a later commit sits on top of it in "
            + "; ".join(later) + ". Roll back the later run(s) first; nothing was changed.")
    return plan


def _set_main(handle: Any, snapshot_id: int | None, run_id: str) -> None:
    if snapshot_id is not None:
        handle.manage_snapshots().set_current_snapshot(snapshot_id=snapshot_id).commit()
        return
    # The run created the table: empty it (a snapshot of its own, naming the rollback).
    from pyiceberg.expressions import AlwaysTrue

    handle.delete(AlwaysTrue(), snapshot_properties={RUN_ID_PROPERTY: f"rollback-of-{run_id}"})


def rollback(lake: LakeTables, manifest: dict[str, Any],
             on_table: Callable[[TableRollback], None] = lambda _: None) -> list[TableRollback]:
    """Put every table run `manifest` changed back to its snapshot before the run: all or none.

    If setting one table fails, the tables already rolled back are put back where they were.
    """
    run_id = str(manifest.get("run_id"))
    plan = plan_rollback(lake, manifest)
    done: list[TableRollback] = []
    try:
        for step in plan:
            _set_main(step.handle, step.snapshot_before, run_id)
            done.append(step)
            on_table(step)
    except Exception:
        for step in reversed(done):
            lake.load(step.table).manage_snapshots().set_current_snapshot(snapshot_id=step.snapshot_after).commit()
        raise
    return plan


# --- readers --------------------------------------------------------------------------------------

def to_pandas(lake: LakeTables, table: str, snapshot_id: int | None = None, row_filter: str | None = None) -> Any:
    """A table (or the table as of a snapshot) as a pandas DataFrame: `row_filter` is pyiceberg's
    string syntax (`"event_date = '2024-01-03'"`), applied while scanning so only matching files are read."""
    handle = lake.load(table)
    scan = handle.scan(snapshot_id=snapshot_id, **({"row_filter": row_filter} if row_filter else {}))
    return scan.to_pandas()


def snapshot_of_run(lake: LakeTables, table: str, run_id: str) -> int:
    """The snapshot run `run_id` published to `table` (the table as of that run)."""
    for row in reversed(history(lake.load(table))):
        if row["run_id"] == run_id and row["state"] != "staged":
            return int(row["snapshot_id"])
    raise LookupError(f"run {run_id} published no snapshot of {table}")


def duckdb_connection() -> Any:
    """A DuckDB connection with the Iceberg extension loaded from its PyPI package (never downloaded)."""
    import duckdb
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    connection = duckdb.connect()
    connection.execute("SET autoinstall_known_extensions = false")
    connection.execute("SET autoload_known_extensions = false")
    for package in (duckdb_extension_avro, duckdb_extension_iceberg):  # iceberg needs avro loaded first
        found = glob.glob(os.path.join(os.path.dirname(package.__file__), "**", "*.duckdb_extension"),
                          recursive=True)
        if not found:
            raise RuntimeError(f"no DuckDB extension file in {package.__name__}")
        connection.execute(f"LOAD '{found[0]}'")
    return connection


def duckdb_scan(lake: LakeTables, table: str) -> str:
    """DuckDB's table function for a lake table's current snapshot: `iceberg_scan('<metadata.json>')`."""
    location = lake.load(table).metadata_location
    return f"iceberg_scan('{location.replace('file://', '').replace('file:', '')}')"


def tables_table(lake: LakeTables, indent: int = 0) -> str:
    """One row per table: data files and rows of the current snapshot (from its summary, no data read)."""
    rows = []
    for name in lake.names():
        snapshot = lake.load(name).current_snapshot()
        summary = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
        rows.append((name, int(summary.get("total-data-files", 0)), f"{int(summary.get('total-records', 0)):,}",
                     snapshot.snapshot_id if snapshot else "-", summary.get(RUN_ID_PROPERTY, "-")))
    return render_table(("table", "files", "rows", "snapshot", "run"), rows, right=("files", "rows"), indent=indent)
