"""Glue job (Python shell): assemble a run's manifest from its jobs' reports and record its status.

The state machine calls it last on success and from its Catch path on failure, so the manifest is
written on AWS exactly as locally. Needs no Spark.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.run_metrics import publish as publish_metrics
from jobs.runtime import resolve_options
from jobs.storage import Storage

REQUIRED_ARGS = ["run_date", "status"]
OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "error": None, "cause": None, "started_at": None, "metrics": "auto"}
COUNT_FIELDS = ("bronze_rows", "silver_rows", "quarantined_rows", "duplicate_rows")


def _failure_message(error: str | None, cause: str | None) -> str | None:
    """Step Functions hands over the Cause as JSON text for Glue task failures: pull the message."""
    if not error and not cause:
        return None
    message = cause or ""
    try:
        parsed = json.loads(message)
        if isinstance(parsed, dict):
            message = parsed.get("ErrorMessage") or parsed.get("errorMessage") or message
    except (TypeError, ValueError):
        pass
    return f"{error}: {message}" if error else message


def run_duration(started_at: str | None, finished: datetime) -> float | None:
    """Seconds from the execution's start (`$$.Execution.StartTime`, ISO 8601) to `finished`; None
    when the start is unknown (a run started by hand without it) or unreadable."""
    if not started_at:
        return None
    try:
        started = datetime.fromisoformat(started_at)
    except ValueError:
        return None
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return round((finished - started).total_seconds(), 3)


def table_commits(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per Iceberg table the run committed to: the snapshot main pointed at before and after the run,
    and the job that wrote it (what `lakehouse rollback --run` restores, and `history` shows)."""
    tables: dict[str, dict[str, Any]] = {}
    for report in reports:
        for entry in (report.get("tables") or {}).values():
            if isinstance(entry, dict) and "snapshot_after" in entry and entry.get("table"):
                tables[entry["table"]] = {"snapshot_before": entry["snapshot_before"],
                                          "snapshot_after": entry["snapshot_after"],
                                          "job": report.get("job"), "location": entry.get("location")}
    return dict(sorted(tables.items()))


def build_manifest(pipeline: str, run_date: str, run_id: str, status: str, reports: list[dict[str, Any]],
                   error: str | None = None, cause: str | None = None,
                   started_at: str | None = None) -> dict[str, Any]:
    datasets = {r["dataset"]: r for r in reports if r.get("job") == "bronze_to_silver"}
    others = {r["job"]: r for r in reports if r.get("job") != "bronze_to_silver"}
    reconciled = all(
        r["bronze_rows"] == r["silver_rows"] + r["quarantined_rows"] + r["duplicate_rows"] for r in datasets.values())
    totals = {field: sum(r[field] for r in datasets.values()) for field in COUNT_FIELDS}
    finished = datetime.now(UTC)
    return {
        "pipeline": pipeline,
        "run_date": run_date,
        "run_id": run_id,
        "status": status,
        "started_at": started_at,
        "finished_at": finished.isoformat(timespec="seconds"),
        "duration_seconds": run_duration(started_at, finished),
        "error": _failure_message(error, cause),
        "reconciled": reconciled,
        "totals": totals,
        "datasets": {
            name: {**{f: r[f] for f in COUNT_FIELDS},
                   **{k: v for k, v in r.items() if k not in COUNT_FIELDS and k not in ("job", "dataset")}}
            for name, r in sorted(datasets.items())
        },
        "jobs": others,
        "tables": table_commits(reports),
    }


def _build_data_docs(ops_root: str, storage: Storage | None = None) -> str | None:
    """Data Docs are rebuilt once per run (not per job): the index shows each suite's latest result."""
    from jobs.quality import build_data_docs

    try:
        return build_data_docs(ops_root, site_storage=storage)
    except Exception as exc:  # the docs are a report; a failure to render must not fail the run
        return f"not built: {type(exc).__name__}: {exc}"


def _publish_metrics(manifest: dict[str, Any], ops_root: str, target: str) -> str:
    """Where the run's health metrics went; a failure to publish is recorded in the manifest (and so
    seen by `lakehouse status`) rather than failing a run whose data is already committed. The
    no-successful-run alarm still fires when metrics stop arriving."""
    try:
        return publish_metrics(manifest, ops_root, target)
    except ValueError:
        raise
    except Exception as exc:
        return f"not published: {type(exc).__name__}: {exc}"


def run(_spark: Any, args: dict[str, Any]) -> dict[str, Any]:
    ctx = JobContext.from_args(args)
    ops = ctx.env.storage_for(ctx.layout.ops)
    reports_dir = ctx.layout.run_reports_dir(ctx.pipeline, ctx.run_date, ctx.run_id)
    reports = [ops.read_json(path) for path in ops.list_files(reports_dir, (".json",))]
    status = str(args["status"]).upper()
    if status not in ("SUCCEEDED", "FAILED"):
        raise ValueError(f"--status must be SUCCEEDED or FAILED, got {args['status']!r}")
    manifest = build_manifest(ctx.pipeline, ctx.run_date.isoformat(), ctx.run_id, status, reports,
                              args.get("error"), args.get("cause"), args.get("started_at"))
    manifest["data_docs"] = _build_data_docs(ctx.layout.ops, ops) if reports else None
    target = ctx.env.metrics_target(str(args.get("metrics") or "auto"))
    manifest["metrics"] = _publish_metrics(manifest, ctx.layout.ops, target)
    path = ctx.layout.manifest(ctx.pipeline, ctx.run_date, ctx.run_id)
    ops.write_json(path, manifest)
    manifest["manifest_path"] = path
    return manifest


def main(argv: list[str] | None = None) -> None:
    import sys

    from jobs.lineage.emit import run_with_lineage

    run_with_lineage("finalize_run", run, None,
                     resolve_options(sys.argv if argv is None else argv, REQUIRED_ARGS, OPTIONAL_ARGS))


if __name__ == "__main__":
    main()
