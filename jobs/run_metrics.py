"""Pipeline-health metrics of a run, in CloudWatch's MetricData shape, derived from its manifest.

`finalize_run` calls `publish` at the end of every run (succeeded or failed). The metric names and
dimensions declared here are the contract the template's alarms and dashboard are built from
(infra/monitoring.py), so the two cannot drift apart.

- Locally, each run appends one line `{"Namespace", "RunId", "MetricData": [...]}` (the body of a
  PutMetricData call plus the run id) to `<ops>/metrics/YYYY-MM-DD.jsonl`, one file per UTC day.
- When the ops root is in S3 (a deployed run; the environment decides, jobs/environment.py), the same
  MetricData goes to CloudWatch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jobs.environment import default_metrics_target

NAMESPACE = "Lakehouse/Pipelines"
PIPELINE_DIMENSION = "Pipeline"
DATASET_DIMENSION = "Dataset"
RUN_SCOPE = "_run"  # the Dataset dimension of run-level metrics (totals, outcome, duration)

# Run level (Dataset = RUN_SCOPE).
RUN_SUCCEEDED = "RunSucceeded"
RUN_FAILED = "RunFailed"
RUN_DURATION = "RunDurationSeconds"
# Per dataset (and their totals at run level), from bronze_to_silver's reconciliation.
BRONZE_ROWS = "BronzeRowsIn"
SILVER_ROWS = "SilverRowsOut"
QUARANTINED_ROWS = "QuarantinedRows"
DUPLICATE_ROWS = "DuplicateRows"
# Per gold table (Dataset = the table), from silver_to_gold.
GOLD_ROWS = "GoldRowsOut"
# Quality-gate verdicts per suite (Dataset = `layer.name`): 1 when the gate failed, warnings counted.
GATE_FAILED = "QualityGateFailed"
GATE_WARNINGS = "QualityGateWarnings"

COUNT_METRICS = {BRONZE_ROWS: "bronze_rows", SILVER_ROWS: "silver_rows", QUARANTINED_ROWS: "quarantined_rows",
                 DUPLICATE_ROWS: "duplicate_rows"}
PUBLISHED_METRICS = (RUN_SUCCEEDED, RUN_FAILED, RUN_DURATION, *COUNT_METRICS, GOLD_ROWS, GATE_FAILED,
                     GATE_WARNINGS)
CLOUDWATCH_BATCH = 1000  # PutMetricData's limit of data per call


def _datum(name: str, pipeline: str, scope: str, value: float, unit: str, timestamp: str) -> dict[str, Any]:
    return {"MetricName": name,
            "Dimensions": [{"Name": PIPELINE_DIMENSION, "Value": pipeline},
                           {"Name": DATASET_DIMENSION, "Value": scope}],
            "Timestamp": timestamp, "Value": float(value), "Unit": unit}


def _quality_results(manifest: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for report in manifest.get("datasets", {}).values():
        if isinstance(report.get("quality"), dict):
            yield report["quality"]
    for report in manifest.get("jobs", {}).values():
        for result in (report.get("quality") or {}).values():
            if isinstance(result, dict) and "status" in result:
                yield result


def metric_data(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every metric of one run; pure (the manifest in, MetricData out)."""
    pipeline = str(manifest["pipeline"])
    stamp = str(manifest.get("finished_at") or datetime.now(UTC).isoformat(timespec="seconds"))
    failed = manifest.get("status") != "SUCCEEDED"
    data = [_datum(RUN_SUCCEEDED, pipeline, RUN_SCOPE, 0 if failed else 1, "Count", stamp),
            _datum(RUN_FAILED, pipeline, RUN_SCOPE, 1 if failed else 0, "Count", stamp)]
    if manifest.get("duration_seconds") is not None:
        data.append(_datum(RUN_DURATION, pipeline, RUN_SCOPE, manifest["duration_seconds"], "Seconds", stamp))
    datasets = manifest.get("datasets") or {}
    if datasets:
        totals = manifest.get("totals") or {}
        for metric, field in COUNT_METRICS.items():
            data.append(_datum(metric, pipeline, RUN_SCOPE, totals.get(field, 0), "Count", stamp))
    for dataset, report in sorted(datasets.items()):
        for metric, field in COUNT_METRICS.items():
            data.append(_datum(metric, pipeline, dataset, report.get(field, 0), "Count", stamp))
    for report in (manifest.get("jobs") or {}).values():
        for table, entry in sorted((report.get("tables") or {}).items()):
            if isinstance(entry, dict) and "rows_written" in entry and str(entry.get("table", "")).startswith("gold."):
                data.append(_datum(GOLD_ROWS, pipeline, table, entry["rows_written"], "Count", stamp))
    for result in _quality_results(manifest):
        suite = str(result.get("suite") or f"{result.get('layer')}.{result.get('dataset')}")
        data.append(_datum(GATE_FAILED, pipeline, suite, 0 if result.get("status") == "passed" else 1, "Count",
                           stamp))
        data.append(_datum(GATE_WARNINGS, pipeline, suite, len(result.get("warnings") or []), "Count", stamp))
    return data


def metrics_file(ops_root: str, timestamp: str) -> Path:
    return Path(ops_root) / "metrics" / f"{timestamp[:10]}.jsonl"


def write_local(ops_root: str, run_id: str, data: list[dict[str, Any]]) -> Path:
    """Append the run's line to the day's file (append keeps concurrent runs' lines whole)."""
    path = metrics_file(ops_root, data[0]["Timestamp"])
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"Namespace": NAMESPACE, "RunId": run_id, "MetricData": data}, sort_keys=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    return path


def put_cloudwatch(data: list[dict[str, Any]], client: Any = None) -> int:
    """PutMetricData in batches; `AWS_ENDPOINT_URL` points boto3 at an emulator."""
    if client is None:
        import boto3

        client = boto3.client("cloudwatch")
    for start in range(0, len(data), CLOUDWATCH_BATCH):
        batch = [{**item, "Timestamp": datetime.fromisoformat(item["Timestamp"])}
                 for item in data[start:start + CLOUDWATCH_BATCH]]
        client.put_metric_data(Namespace=NAMESPACE, MetricData=batch)
    return len(data)


def publish(manifest: Mapping[str, Any], ops_root: str, target: str = "auto") -> str:
    """Publish a run's metrics (`target`: local | cloudwatch | none, or auto: CloudWatch for an ops root
    in S3, else local files; the environment's decision, jobs/environment.py)."""
    target = default_metrics_target(target, ops_root)
    if target == "none":
        return "not published (--metrics none)"
    data = metric_data(manifest)
    if target == "cloudwatch":
        count = put_cloudwatch(data)
        return f"{count} metrics to CloudWatch namespace {NAMESPACE} ({os.environ.get('AWS_REGION', 'default region')})"
    return str(write_local(ops_root, str(manifest["run_id"]), data))


def read_local(ops_root: str | Path) -> list[dict[str, Any]]:
    """Every run line under `<ops>/metrics/`, oldest file first; a bad line names its file and line."""
    runs = []
    for path in sorted((Path(ops_root) / "metrics").glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError as error:
                raise ValueError(f"{path}:{number}: not a metrics line ({error})") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("MetricData"), list):
                raise ValueError(f"{path}:{number}: not a metrics line (no MetricData list)")
            runs.append(entry)
    return runs
