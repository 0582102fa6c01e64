"""`lakehouse dr restore`: open gold's replicated Iceberg tables in the DR region after a failover.

S3 replication copies every object of gold to its replica bucket, but an Iceberg table's metadata
names its files by absolute path: the metadata JSON names the manifest lists, a manifest list its
manifests, a manifest its data files, all under `s3://<primary gold>/`. Registering the replicated
metadata as it is would make every read go back to the primary bucket (down, in a disaster), and
the replica cannot take gold's name (bucket names are global). So restore *rewrites the paths*:

1. per table (a top-level prefix of the replica with `metadata/*.metadata.json`), take the newest
   metadata file (highest version; the primary catalog, which would say which is current, is in the
   lost region);
2. check that every file of its current snapshot has arrived (replication lag beyond the RPO stops
   the restore for that table, naming the missing files);
3. write new manifests and manifest lists with the replica's paths (Avro, the files' own schemas and
   metadata kept; manifest lengths recomputed) and a new metadata file, the successor version;
   the replicated files themselves are never modified, so replication can be resumed later;
4. register that metadata file in the DR region's Glue Data Catalog (same database and table names
   as the primary, so readers only change region), and count the rows of each restored table.

Rewriting beats re-registering the replicated metadata as is (reads would go to the primary) and
beats copying data into a bucket of the old name (impossible while the old one exists, and hours of
copying against a 4-hour RTO): only metadata is written, a few files per snapshot.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

METADATA_FILE = re.compile(r"^(?P<table>[^/]+)/metadata/(?P<version>\d+)-[^/]*\.metadata\.json$")
POSITION_DELETES = 1  # data_file.content of position-delete files (their Parquet rows hold data-file paths)
DELETED = 2  # a manifest entry's status for a file the snapshot removed (it may be gone already)


class RestoreError(RuntimeError):
    """A table that cannot be restored as it stands; the message names the table and the reason."""


@dataclass
class RestoredTable:
    name: str
    source_metadata: str
    metadata_location: str
    snapshot_id: int | None
    rows: int
    files_rewritten: int


@dataclass
class RestoreReport:
    region: str
    replica_bucket: str
    glue_database: str
    restored: list[RestoredTable] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


# -- pure parts --------------------------------------------------------------------------------------
def newest_metadata(keys: Iterable[str]) -> dict[str, str]:
    """Per table, the key of its highest-version metadata file (`<table>/metadata/NNNNN-uuid.metadata.json`)."""
    newest: dict[str, tuple[int, str]] = {}
    for key in keys:
        match = METADATA_FILE.match(key)
        if match:
            version = int(match["version"])
            table = match["table"]
            if table not in newest or (version, key) > newest[table]:
                newest[table] = (version, key)
    return {table: key for table, (_, key) in sorted(newest.items())}


def relocate(value: str, source: str, target: str) -> str:
    """`value` under `source` moved under `target`; a path elsewhere is an error (it cannot be read in DR)."""
    if value.startswith(source):
        return target + value[len(source):]
    if value.startswith(target):
        return value
    raise RestoreError(f"{value} is neither under the primary root {source} nor the replica {target}")


def rewrite_metadata_json(metadata: dict[str, Any], source: str, target: str,
                          manifest_lists: dict[str, str]) -> dict[str, Any]:
    """Table metadata with its location, snapshots' manifest lists, statistics and metadata log moved."""
    moved = json.loads(json.dumps(metadata))
    moved["location"] = relocate(moved["location"], source, target)
    for snapshot in moved.get("snapshots", []):
        snapshot["manifest-list"] = manifest_lists[snapshot["manifest-list"]]
    for entry in moved.get("metadata-log", []):
        entry["metadata-file"] = relocate(entry["metadata-file"], source, target)
    for kind in ("statistics", "partition-statistics"):
        for entry in moved.get(kind, []):
            entry["statistics-path"] = relocate(entry["statistics-path"], source, target)
    for key, value in list(moved.get("properties", {}).items()):
        if isinstance(value, str) and value.startswith(source):
            moved["properties"][key] = relocate(value, source, target)
    return moved


def successor_name(metadata_key: str) -> str:
    """The next version's file name, as Iceberg's catalogs name them (`NNNNN-<uuid>.metadata.json`)."""
    match = METADATA_FILE.match(metadata_key)
    assert match, metadata_key
    return f"{int(match['version']) + 1:05d}-{uuid.uuid4()}.metadata.json"


def restored_name(path: str) -> str:
    """Rewritten manifests and manifest lists sit beside the originals as `dr-<name>`."""
    folder, _, name = path.rpartition("/")
    return f"{folder}/dr-{name}"


# -- Avro: manifests and manifest lists ----------------------------------------------------------------
def _field_position(schema: Any, name: str) -> int:
    for position, item in enumerate(schema.fields):
        if item.name == name:
            return position
    raise RestoreError(f"no field {name!r} in the Avro schema {schema}")


def rewrite_avro(io: Any, path: str, target_path: str, change: Callable[[Any, Any], None]) -> int:
    """Copy one Avro file with `change(record, schema)` applied to each record; returns the new size.

    The file's own schema (with Iceberg's field ids) and header metadata are kept, so any Iceberg
    reader resolves the copy exactly as the original."""
    from pyiceberg.avro.file import AvroFile, AvroOutputFile

    with AvroFile(io.new_input(path)) as reader:
        schema = reader.schema
        header = dict(reader.header.meta)
        records = list(reader)
    for record in records:
        change(record, schema)
    avro_schema = json.loads(header.pop("avro.schema"))
    output = io.new_output(target_path)
    with AvroOutputFile(output, schema, avro_schema["name"], metadata=header) as writer:
        if records:
            writer.write_block(records)
    return len(io.new_input(target_path))


def _manifest_change(source: str, target: str, data_paths: list[str], table: str) -> Callable[[Any, Any], None]:
    def change(entry: Any, schema: Any) -> None:
        data_file_position = _field_position(schema, "data_file")
        data_file_schema = schema.fields[data_file_position].field_type
        data_file = entry[data_file_position]
        if data_file[_field_position(data_file_schema, "content")] == POSITION_DELETES:
            path = data_file[_field_position(data_file_schema, "file_path")]
            raise RestoreError(f"{table}: position-delete file {path} "
                               "holds data-file paths inside its Parquet rows, which restore does not rewrite; "
                               "compact the table on the primary (lakehouse maintain) or rewrite it in DR")
        path_position = _field_position(data_file_schema, "file_path")
        if entry[_field_position(schema, "status")] != DELETED:
            data_paths.append(data_file[path_position])
        data_file[path_position] = relocate(data_file[path_position], source, target)
    return change


def _manifest_list_change(manifests: dict[str, tuple[str, int]]) -> Callable[[Any, Any], None]:
    def change(record: Any, schema: Any) -> None:
        path_position = _field_position(schema, "manifest_path")
        new_path, new_length = manifests[record[path_position]]
        record[path_position] = new_path
        record[_field_position(schema, "manifest_length")] = new_length
    return change


def _manifest_paths(io: Any, manifest_list: str) -> list[str]:
    from pyiceberg.avro.file import AvroFile

    with AvroFile(io.new_input(manifest_list)) as reader:
        position = _field_position(reader.schema, "manifest_path")
        return [record[position] for record in reader]


# -- one table -----------------------------------------------------------------------------------------
def restore_table(io: Any, present: set[str], table: str, metadata_path: str, source: str,
                  target: str) -> tuple[str, dict[str, Any], int]:
    """Write the table's relocated metadata; returns (new metadata path, its content, files written)."""
    metadata = json.loads(io.new_input(metadata_path).open().read())
    current = metadata.get("current-snapshot-id")
    snapshots = metadata.get("snapshots", [])
    manifests: dict[str, tuple[str, int]] = {}
    manifest_lists: dict[str, str] = {}
    current_files: set[str] = set()
    for snapshot in snapshots:
        original_list = snapshot["manifest-list"]
        replica_list = relocate(original_list, source, target)
        is_current = snapshot["snapshot-id"] == current
        if replica_list not in present:
            if is_current:
                raise RestoreError(f"{table}: the current snapshot's manifest list {replica_list} has not been "
                                   "replicated yet")
            continue  # an older snapshot whose files were not replicated: dropped from the restored history
        for original_manifest in _manifest_paths(io, replica_list):
            replica_manifest = relocate(original_manifest, source, target)
            if original_manifest not in manifests:
                if replica_manifest not in present:
                    raise RestoreError(f"{table}: manifest {replica_manifest} has not been replicated yet")
                data_paths: list[str] = []
                new_manifest = restored_name(replica_manifest)
                length = rewrite_avro(io, replica_manifest, new_manifest,
                                      _manifest_change(source, target, data_paths, table))
                manifests[original_manifest] = (new_manifest, length)
                if is_current:
                    current_files.update(relocate(path, source, target) for path in data_paths)
            elif is_current:
                current_files.update(_data_paths(io, manifests[original_manifest][0]))
        new_list = restored_name(replica_list)
        rewrite_avro(io, replica_list, new_list, _manifest_list_change(manifests))
        manifest_lists[original_list] = new_list
    missing = sorted(current_files - present)
    if missing:
        raise RestoreError(f"{table}: {len(missing)} data file(s) of the current snapshot have not been replicated "
                           f"yet, e.g. {', '.join(missing[:3])}")
    metadata["snapshots"] = [s for s in snapshots if s["manifest-list"] in manifest_lists]
    kept = {s["snapshot-id"] for s in metadata["snapshots"]}
    metadata["snapshot-log"] = [e for e in metadata.get("snapshot-log", []) if e["snapshot-id"] in kept]
    for ref in list(metadata.get("refs", {})):
        if metadata["refs"][ref]["snapshot-id"] not in kept:
            del metadata["refs"][ref]
    moved = rewrite_metadata_json(metadata, source, target, manifest_lists)
    moved.setdefault("metadata-log", []).append({"timestamp-ms": metadata.get("last-updated-ms", 0),
                                                  "metadata-file": metadata_path})
    new_metadata = f"{metadata_path.rsplit('/', 1)[0]}/{successor_name(metadata_path[len(target):])}"
    with io.new_output(new_metadata).create(overwrite=False) as out:
        out.write(json.dumps(moved).encode())
    return new_metadata, moved, len(manifests) + len(manifest_lists) + 1


def _data_paths(io: Any, manifest: str) -> list[str]:
    from pyiceberg.avro.file import AvroFile

    with AvroFile(io.new_input(manifest)) as reader:
        data_file_position = _field_position(reader.schema, "data_file")
        path_position = _field_position(reader.schema.fields[data_file_position].field_type, "file_path")
        status_position = _field_position(reader.schema, "status")
        return [record[data_file_position][path_position] for record in reader if record[status_position] != DELETED]


# -- the command -----------------------------------------------------------------------------------------
def list_keys(s3: Any, bucket: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def restore(region: str, replica_bucket: str, source_root: str, glue_database: str,
            endpoint_url: str | None = None, tables: Iterable[str] | None = None,
            printer: Callable[[str], None] = print) -> RestoreReport:
    """Restore every gold table found in the replica (or only `tables`) and register it in `region`."""
    import boto3
    from pyiceberg.catalog.glue import GlueCatalog
    from pyiceberg.exceptions import NamespaceAlreadyExistsError
    from pyiceberg.io.pyarrow import PyArrowFileIO

    from jobs.tables import name_in_catalog

    properties = {"s3.region": region, "glue.region": region}
    if endpoint_url:
        properties.update({"s3.endpoint": endpoint_url, "glue.endpoint": endpoint_url})
    io = PyArrowFileIO(properties)
    s3 = boto3.client("s3", region_name=region, endpoint_url=endpoint_url)
    source = source_root.rstrip("/") + "/"
    target = f"s3://{replica_bucket}/"
    keys = list_keys(s3, replica_bucket)
    present = {target + key for key in keys}
    found = newest_metadata(keys)
    wanted = set(tables) if tables else set(found)
    unknown = sorted(wanted - set(found))
    report = RestoreReport(region, replica_bucket, glue_database)
    for name in unknown:
        report.failed[name] = f"no Iceberg metadata under s3://{replica_bucket}/{name}/metadata/"
    if not found:
        raise RestoreError(f"no Iceberg table in s3://{replica_bucket}/ (is replication enabled, and is this the "
                           "replica bucket?)")
    catalog = GlueCatalog("dr", **properties)
    with contextlib.suppress(NamespaceAlreadyExistsError):
        catalog.create_namespace(glue_database)
    printer(f"Restoring {len(wanted & set(found))} table(s) from s3://{replica_bucket}/ into the Glue catalog of "
            f"{region} (database {glue_database}); primary root {source}")
    for name in sorted(wanted & set(found)):
        metadata_path = target + found[name]
        try:
            new_metadata, moved, written = restore_table(io, present, name, metadata_path, source, target)
            identifier = name_in_catalog("glue", "gold", name, glue_database)
            if catalog.table_exists(identifier):  # a restore run again: point the entry at the new metadata
                catalog.drop_table(identifier)  # the Glue entry only; Glue's drop deletes no file
            table = catalog.register_table(identifier, new_metadata)
            rows = table.scan().to_arrow().num_rows if table.current_snapshot() else 0
            expected = _summary_rows(moved)
            if expected is not None and rows != expected:
                raise RestoreError(f"{name}: read {rows} rows, the snapshot's summary says {expected}")
        except RestoreError as error:
            report.failed[name] = str(error)
            printer(f"  FAILED {name}: {error}")
            continue
        report.restored.append(RestoredTable(name, metadata_path, new_metadata, moved.get("current-snapshot-id"),
                                             rows, written))
        printer(f"  {name:<28} {rows:>9} rows  snapshot {moved.get('current-snapshot-id')}  "
                f"({written} metadata files written) -> {'.'.join(identifier)}")
    return report


def _summary_rows(metadata: dict[str, Any]) -> int | None:
    current = metadata.get("current-snapshot-id")
    for snapshot in metadata.get("snapshots", []):
        if snapshot["snapshot-id"] == current:
            total = snapshot.get("summary", {}).get("total-records")
            return int(total) if total is not None else None
    return None


def build_parser() -> Any:
    import argparse

    from infra.settings import DR_REGION, STAGES

    parser = argparse.ArgumentParser(prog="lakehouse dr", description="disaster recovery of gold")
    sub = parser.add_subparsers(dest="command", required=True)
    restore_cmd = sub.add_parser("restore", help="open gold's replicated tables in the DR region (rewrite their "
                                                 "paths, register them in that region's Glue catalog, count rows)")
    restore_cmd.add_argument("--region", default=DR_REGION, help=f"the DR region (default {DR_REGION})")
    restore_cmd.add_argument("--endpoint-url", help="an AWS emulator (e.g. a moto server) instead of AWS")
    restore_cmd.add_argument("--stage", default="prod", choices=STAGES)
    restore_cmd.add_argument("--account", help="12-digit account id (default: the caller's, from STS)")
    restore_cmd.add_argument("--prefix", default="lakehouse", help="name prefix of the deployment")
    restore_cmd.add_argument("--replica-bucket", help="gold's replica (default: the DR stack's bucket name)")
    restore_cmd.add_argument("--source-root", help="the root the replicated metadata names (default: "
                                                   "s3://<the primary's gold bucket>/)")
    restore_cmd.add_argument("--glue-database", help="database to register in (default: the deployment's)")
    restore_cmd.add_argument("--tables", help="comma-separated gold tables (default: every table in the replica)")
    return parser


def main(argv: list[str] | None = None) -> int:
    import sys

    import boto3

    from infra.settings import DeploySettings

    args = build_parser().parse_args(argv)
    account = args.account or boto3.client("sts", region_name=args.region,
                                           endpoint_url=args.endpoint_url).get_caller_identity()["Account"]
    settings = DeploySettings(stage=args.stage, account=account, prefix=args.prefix,
                              dr_region=None if args.region == "us-east-1" else args.region)
    try:
        report = restore(args.region, args.replica_bucket or settings.dr_gold_bucket,
                         args.source_root or f"s3://{settings.bucket_name('gold')}/",
                         args.glue_database or settings.glue_database, args.endpoint_url,
                         [name.strip() for name in args.tables.split(",")] if args.tables else None)
    except RestoreError as error:
        print(f"dr restore failed: {error}", file=sys.stderr)
        return 1
    for name, reason in sorted(report.failed.items()):
        print(f"dr restore: {name} not restored: {reason}", file=sys.stderr)
    print(f"{len(report.restored)} table(s) readable in {report.region}"
          + (f"; {len(report.failed)} not restored" if report.failed else ""))
    return 1 if report.failed else 0
