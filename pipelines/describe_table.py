"""`lakehouse describe TABLE`: what a table is and how it has changed, from its metadata alone.

Schema and its versions (the contract's `keep` columns arrive as schema updates, never rewrites),
partition spec, snapshots, and the data files of the current snapshot, so that an engineer can see
at a glance whether a table needs maintenance (many small files, many snapshots) before running it.
No data is read; pyiceberg opens the same catalog the jobs write.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from jobs.tables import RUN_ID_PROPERTY
from jobs.text_table import render_table
from pipelines.lake_tables import utc_time

SMALL_FILE_BYTES = 32 * 1024 * 1024  # a quarter of Iceberg's default 128 MiB target: a compaction candidate


def _fields(schema: Any) -> list[dict[str, Any]]:
    return [{"id": f.field_id, "name": f.name, "type": str(f.field_type), "required": f.required}
            for f in schema.fields]


def schema_versions(table: Any) -> list[dict[str, Any]]:
    """Every schema the table has had, oldest first (version 1 is the one it was created with), with
    what changed from the version before and the first snapshot written with it."""
    metadata = table.metadata
    first_use: dict[int, Any] = {}
    for snapshot in sorted(metadata.snapshots, key=lambda s: s.timestamp_ms):
        if snapshot.schema_id is not None and snapshot.schema_id not in first_use:
            first_use[snapshot.schema_id] = snapshot
    versions, previous = [], None
    for number, schema in enumerate(sorted(metadata.schemas, key=lambda s: s.schema_id), start=1):
        fields = {f.field_id: f for f in schema.fields}
        before = {f.field_id: f for f in previous.fields} if previous is not None else {}
        snapshot = first_use.get(schema.schema_id)
        summary = snapshot.summary.additional_properties if snapshot and snapshot.summary else {}
        versions.append({
            "version": number,
            "schema_id": schema.schema_id,
            "current": schema.schema_id == metadata.current_schema_id,
            "columns": len(fields),
            "added": [f.name for i, f in fields.items() if i not in before] if previous is not None else [],
            "dropped": [f.name for i, f in before.items() if i not in fields],
            "retyped": [f"{f.name}: {before[i].field_type} -> {f.field_type}" for i, f in fields.items()
                        if i in before and str(before[i].field_type) != str(f.field_type)],
            "renamed": [f"{before[i].name} -> {f.name}" for i, f in fields.items()
                        if i in before and before[i].name != f.name],
            "first_snapshot": snapshot.snapshot_id if snapshot else None,
            "first_written_at": utc_time(snapshot.timestamp_ms) if snapshot else None,
            "first_run": summary.get(RUN_ID_PROPERTY) if snapshot else None,
        })
        previous = schema
    return versions


def partition_specs(table: Any) -> list[dict[str, Any]]:
    schema = table.schema()
    specs = []
    for spec in table.metadata.partition_specs:
        specs.append({"spec_id": spec.spec_id, "current": spec.spec_id == table.metadata.default_spec_id,
                      "fields": [{"source": schema.find_column_name(f.source_id), "transform": str(f.transform),
                                  "name": f.name} for f in spec.fields]})
    return specs


def snapshot_counts(table: Any) -> dict[str, Any]:
    """How many snapshots the metadata holds, how many are `main`'s lineage, and the oldest and newest."""
    metadata = table.metadata
    lineage, snapshot = 0, table.current_snapshot()
    while snapshot is not None:
        lineage += 1
        snapshot = table.snapshot_by_id(snapshot.parent_snapshot_id) if snapshot.parent_snapshot_id else None
    times = [s.timestamp_ms for s in metadata.snapshots]
    current = table.current_snapshot()
    summary = current.summary.additional_properties if current and current.summary else {}
    return {"total": len(metadata.snapshots), "main_lineage": lineage,
            "not_on_main": len(metadata.snapshots) - lineage,
            "oldest_at": utc_time(min(times)) if times else None, "newest_at": utc_time(max(times)) if times else None,
            "current": current.snapshot_id if current else None,
            "current_run": summary.get(RUN_ID_PROPERTY)}


def data_files(table: Any) -> dict[str, Any]:
    """The current snapshot's data files: totals, and per partition (files, rows, bytes)."""
    if table.current_snapshot() is None:
        return {"files": 0, "rows": 0, "bytes": 0, "partitions": 0, "small_files": 0,
                "partitions_with_several_files": 0, "by_partition": []}
    files = table.inspect.files().to_pylist()
    by_partition: dict[str, dict[str, int]] = defaultdict(lambda: {"files": 0, "rows": 0, "bytes": 0})
    for entry in files:
        if entry.get("content", 0) != 0:  # position/equality delete files are not data
            continue
        partition = entry.get("partition") or {}
        key = "/".join(f"{k}={v}" for k, v in partition.items()) or "(unpartitioned)"
        by_partition[key]["files"] += 1
        by_partition[key]["rows"] += int(entry["record_count"])
        by_partition[key]["bytes"] += int(entry["file_size_in_bytes"])
    data = [e for e in files if e.get("content", 0) == 0]
    return {"files": len(data), "rows": sum(int(e["record_count"]) for e in data),
            "bytes": sum(int(e["file_size_in_bytes"]) for e in data), "partitions": len(by_partition),
            "small_files": sum(1 for e in data if int(e["file_size_in_bytes"]) < SMALL_FILE_BYTES),
            "partitions_with_several_files": sum(1 for p in by_partition.values() if p["files"] > 1),
            "by_partition": [{"partition": k, **v} for k, v in sorted(by_partition.items())]}


def describe(name: str, table: Any) -> dict[str, Any]:
    """Everything `lakehouse describe` shows, as plain data (what `--json` prints)."""
    metadata = table.metadata
    return {
        "table": name,
        "location": metadata.location,
        "metadata_location": table.metadata_location,
        "format_version": metadata.format_version,
        "schema": _fields(table.schema()),
        "schema_versions": schema_versions(table),
        "partition_specs": partition_specs(table),
        "snapshots": snapshot_counts(table),
        "data_files": data_files(table),
        "properties": dict(sorted(metadata.properties.items())),
    }


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def describe_lines(info: dict[str, Any], partitions_shown: int = 10) -> list[str]:
    snapshots, files = info["snapshots"], info["data_files"]
    current_schema = next(v for v in info["schema_versions"] if v["current"])
    lines = [f"{info['table']}  (Iceberg v{info['format_version']})",
             f"  location:  {info['location']}",
             f"  metadata:  {info['metadata_location']}",
             f"  schema:    version {current_schema['version']} of {len(info['schema_versions'])} "
             f"(schema id {current_schema['schema_id']}), {len(info['schema'])} columns"]
    lines.append(render_table(("id", "column", "type", "nulls"), [
        (f["id"], f["name"], f["type"], "required" if f["required"] else "optional") for f in info["schema"]],
        right=("id",), indent=4))
    lines.append("  schema versions:")
    for version in info["schema_versions"]:
        changes = ["created"] if version["version"] == 1 else []
        changes += [f"{verb} {', '.join(version[verb])}" for verb in ("added", "dropped", "retyped", "renamed")
                    if version[verb]]
        first = (f"first written {version['first_written_at']} by run {version['first_run'] or '?'}"
                 if version["first_snapshot"] else "no snapshot written with it yet")
        lines.append(f"    v{version['version']} (id {version['schema_id']}){' current' if version['current'] else ''}:"
                     f" {'; '.join(changes) or 'no column change'}; {first}")
    for spec in info["partition_specs"]:
        fields = ", ".join(f"{f['transform']}({f['source']})" for f in spec["fields"]) or "unpartitioned"
        lines.append(f"  partition spec {spec['spec_id']}{' (current)' if spec['current'] else ''}: {fields}")
    lines.append(f"  snapshots: {snapshots['total']} ({snapshots['main_lineage']} on main, "
                 f"{snapshots['not_on_main']} staged or rolled back), oldest {snapshots['oldest_at'] or '-'}, "
                 f"newest {snapshots['newest_at'] or '-'}; current {snapshots['current'] or '-'} "
                 f"(run {snapshots['current_run'] or '-'})")
    lines.append(f"  data files: {files['files']:,} in {files['partitions']:,} partition(s), {files['rows']:,} rows, "
                 f"{_size(files['bytes'])}; {files['small_files']:,} under {_size(SMALL_FILE_BYTES)}, "
                 f"{files['partitions_with_several_files']:,} partition(s) with several files")
    busiest = sorted(files["by_partition"], key=lambda p: (-p["files"], p["partition"]))[:partitions_shown]
    if busiest:
        lines.append(render_table(("partition", "files", "rows", "size"), [
            (p["partition"], p["files"], f"{p['rows']:,}", _size(p["bytes"])) for p in busiest],
            right=("files", "rows", "size"), indent=4))
    if len(files["by_partition"]) > partitions_shown:
        lines.append(f"    ... {len(files['by_partition']) - partitions_shown} more partition(s) (--json lists all)")
    return lines
