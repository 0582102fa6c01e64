"""Every bronze file accounted for: the file-level side of bronze_to_silver.

- `inspect_bronze`: every object of the ingest folder with its outcome (jobs/bronze_files.py); stops
  the job, naming the files, when the contract says `on_unreadable_file: fail`.
- `unreadable_file_rejects`: one record per file that could not be read at all, in the shape of the
  conformed batch's rejected rows, so it reaches quarantine through the same path as any refused row.
  Such a file counts as ONE bronze record (its rows cannot be counted), quarantined with the reason
  `unreadable_file:<why>`; its raw_record is a JSON object with the file, its size and sha256 (never
  its content), and the file itself stays in bronze untouched.
- `alert_unreadable_files`: an alert naming each such file (SNS when the job has a topic, the local
  outbox `ops/alerts/` otherwise).
- `files_report`: the report's per-file list (rows read, promoted, quarantined, duplicates) and the
  file reconciliation: files listed = read + empty + header-only + skipped + quarantined.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.bronze import BronzeReadError
from jobs.bronze_files import BronzeFile, inspect_folder
from jobs.contracts import Contract
from jobs.storage import write_json

log = logging.getLogger(__name__)
OUTCOMES = ("read", "header_only", "empty", "skipped", "quarantined")
UNREADABLE_REASON = "unreadable_file"


def inspect_bronze(folder: str, contract: Contract) -> list[BronzeFile]:
    entries = inspect_folder(folder, contract)
    if not entries:
        raise BronzeReadError(f"dataset {contract.name}: no {contract.format} files in {folder} (no object at all)")
    return entries


def unreadable(entries: list[BronzeFile]) -> list[BronzeFile]:
    return [e for e in entries if e.outcome == "quarantined"]


def refusal(contract: Contract, entry: BronzeFile) -> str:
    return (f"dataset {contract.name}: file {entry.path} ({entry.size:,} bytes, sha256 {entry.sha256}) "
            f"cannot be read: {entry.reason}")


def refuse_unreadable_files(entries: list[BronzeFile], contract: Contract) -> None:
    """Contract `on_unreadable_file: fail`: stop before anything is published, naming each file."""
    bad = unreadable(entries)
    if bad and contract.on_unreadable_file == "fail":
        raise BronzeReadError("; ".join(refusal(contract, e) for e in bad)
                              + " (contract on_unreadable_file: fail; nothing was published)")


def reason_token(entry: BronzeFile) -> str:
    return f"{UNREADABLE_REASON}:{(entry.reason or 'unknown').split(':', 1)[0].strip()}"


def unreadable_file_rejects(spark: SparkSession, entries: list[BronzeFile], reasons: str,
                            record_key: str) -> DataFrame | None:
    """One rejected 'record' per unreadable file (see the module docstring); None when there is none."""
    bad = unreadable(entries)
    if not bad:
        return None
    schema = T.StructType([T.StructField("_source_file", T.StringType()),
                           T.StructField("_raw_record", T.StringType()),
                           T.StructField(record_key, T.StringType()),
                           T.StructField(reasons, T.ArrayType(T.StringType()))])
    rows = [(e.path, json.dumps({"file": e.path, "size": e.size, "sha256": e.sha256, "detail": e.reason},
                                sort_keys=True), "", [reason_token(e)]) for e in bad]
    return spark.createDataFrame(rows, schema)


def alert_unreadable_files(entries: list[BronzeFile], contract: Contract, args: dict[str, Any],
                           alerts_folder: str, run_id: str, run_date: str) -> list[str]:
    """An alert per run naming each unreadable file; returns where it went (topic ARN or outbox file)."""
    bad = unreadable(entries)
    if not bad:
        return []
    subject = f"bronze_to_silver {contract.name} {run_date}: {len(bad)} file(s) quarantined unread"
    message = "\n".join([
        f"run {run_id}: the date was promoted without these files; they are left in bronze untouched "
        f"and recorded in quarantine (reason {UNREADABLE_REASON}:<why>):",
        *[f"- {refusal(contract, e)}" for e in bad]])
    for entry in bad:
        log.warning(refusal(contract, entry))
    topic = args.get("alert_topic_arn")
    if topic:
        import boto3

        boto3.client("sns").publish(TopicArn=str(topic), Subject=subject[:100], Message=message)
        return [str(topic)]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = f"{alerts_folder.rstrip('/')}/{stamp}-{run_id}-{contract.name}-unreadable-files.json"
    write_json(path, {"subject": subject, "message": message, "topic": None, "execution": run_id,
                      "state_machine": None, "message_id": None, "published_at": datetime.now(UTC).isoformat(),
                      "files": [e.report() for e in bad]})
    return [path]


SAMPLE_REFUSALS_PER_FILE = 5


def refusal_line(dataset: str, sample: dict[str, Any]) -> str:
    where = []
    if sample.get("source_row") is not None:
        where.append(f"row {sample['source_row']}")
    if sample.get("byte_offset") is not None:
        where.append(f"byte {sample['byte_offset']}")
    if sample.get("record_key"):
        where.append(f"key {sample['record_key']}")
    return (f"dataset {dataset}: file {sample['file']}" + (f" {', '.join(where)}" if where else "")
            + f": {', '.join(sample['reasons'] or [])}")


def record_refusal_samples(entries: list[BronzeFile], rejected: DataFrame, dataset: str,
                           reasons: str, record_key: str) -> list[str]:
    """A few refused rows per file (file, row or byte offset, key, reasons naming the field) for the
    report and the log; one small query over the rejected rows, none when there are none."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    columns = rejected.columns
    location = [F.col(c).alias(c.lstrip("_")) for c in ("_source_row", "_byte_offset") if c in columns]
    order = F.col("source_row").asc_nulls_last() if "_source_row" in columns else F.lit(1)
    ranked = rejected.select(F.col("_source_file").alias("file"), *location, F.col(record_key).alias("record_key"),
                             F.col(reasons).alias("reasons")).withColumn(
        "_n", F.row_number().over(Window.partitionBy("file").orderBy(order, "record_key")))
    by_path = {e.path: e for e in entries}
    lines = []
    for row in ranked.where(F.col("_n") <= SAMPLE_REFUSALS_PER_FILE).drop("_n").collect():
        sample = row.asDict()
        entry = by_path.get(sample["file"])
        if entry is not None and entry.outcome == "read":
            entry.refused_sample.append({k: v for k, v in sample.items() if k != "file" and v is not None})
        line = refusal_line(dataset, sample)
        log.warning(line)
        lines.append(line)
    return sorted(lines)


def record_counts(entries: list[BronzeFile], read: dict[str, int], rejected: dict[str, int],
                  duplicates: dict[str, int], gate_quarantined: dict[str, int]) -> None:
    """Per file: rows read, quarantined (at conform or by the quality gate), duplicates, and promoted
    (the rest): each row of a file is exactly one of the last three."""
    for entry in entries:
        if entry.outcome != "read":
            continue
        entry.rows_read = read.get(entry.path, 0)
        entry.quarantined = rejected.get(entry.path, 0) + gate_quarantined.get(entry.path, 0)
        entry.duplicates = duplicates.get(entry.path, 0)
        entry.promoted = entry.rows_read - entry.quarantined - entry.duplicates


def files_report(entries: list[BronzeFile]) -> dict[str, Any]:
    counts = {outcome: sum(1 for e in entries if e.outcome == outcome) for outcome in OUTCOMES}
    return {"listed": len(entries), **counts, "reconciled": len(entries) == sum(counts.values())}
