"""Glue job: record the training pipeline's decision about a model version in the registry.

`--decision deployed` (after the endpoint switched to the version's endpoint config): copies the
version's model.tar.gz to the registry's stable `deployed/model.tar.gz` (batch inference reads
it), then replaces `deployed.json` (the pointer: version, SageMaker names, metrics, the previous
pointer). `--decision rejected`: records why; nothing deployed changes. Both write
`<version>/decision.json`.

Arguments: `--run_date`, `--decision`, `--training_job_name` (required), `--run_id` (the
version), `--model_name`, `--sagemaker_model`, `--endpoint_name`, `--endpoint_config`,
`--pipeline`, lake roots.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.job_shell import glue_main, run_job
from jobs.ml.artifacts import DEFAULT_MODEL_NAME, require, training_output_archive
from jobs.ml.evaluate_model import METRICS_FILE
from jobs.storage import exists, read_bytes, read_json, write_bytes, write_json

JOB_NAME = "record_model"
DECISIONS = ("deployed", "rejected")
REQUIRED_ARGS = ["run_date", "decision", "training_job_name"]
OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "model_name": DEFAULT_MODEL_NAME, "sagemaker_model": None,
                 "endpoint_name": None, "endpoint_config": None}


def metrics_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {
        "auc": metrics.get("auc"),
        "precision": metrics.get("precision"),
        "recall": metrics.get("recall"),
        "threshold": metrics.get("threshold"),
        "baseline_auc": (metrics.get("baseline") or {}).get("auc"),
        "champion_auc": (metrics.get("champion") or {}).get("auc"),
        "holdout_window": metrics.get("holdout_window"),
    }


def training_data(layout: Any, pipeline: str, run_date: Any, run_id: str) -> dict[str, Any] | None:
    """The table snapshots this version was trained from, from the run's training_set report: the
    gold training_set snapshot, and the silver/gold snapshots that set was built from
    (`training_set --input_snapshots` rebuilds it from exactly those)."""
    report_path = layout.job_report(pipeline, run_date, run_id, "training_set")
    if not exists(report_path):
        return None
    report = read_json(report_path)
    table = (report.get("tables") or {}).get("training_set", {})
    return {"training_set_snapshot": table.get("snapshot_after"), "input_snapshots": report.get("input_snapshots"),
            "windows": report.get("windows")}


def record_decision(ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """decision.json (and, for a deployment, the deployed pointer and artifact); the report's own fields."""
    layout = ctx.layout
    decision = str(args["decision"]).lower()
    if decision not in DECISIONS:
        raise ValueError(f"--decision must be one of {', '.join(DECISIONS)}, got {args['decision']!r}")
    model_name = str(args.get("model_name") or DEFAULT_MODEL_NAME)
    version = ctx.run_id
    version_folder = layout.model_version(model_name, version)
    metrics = read_json(require(f"{version_folder}/{METRICS_FILE}", "the version's metrics"))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    record = {
        "model_name": model_name,
        "version": version,
        "decision": decision,
        "decided_at": now,
        "run_date": ctx.run_date.isoformat(),
        "training_job_name": args["training_job_name"],
        "metrics": metrics_summary(metrics),
        "data": training_data(layout, ctx.pipeline, ctx.run_date, version),
    }
    if decision == "deployed":
        archive_path = require(training_output_archive(layout, model_name, version, args["training_job_name"]),
                               "the version's model archive")
        pointer_path = layout.deployed_model_pointer(model_name)
        previous = read_json(pointer_path) if exists(pointer_path) else None
        record.update({"sagemaker_model": args.get("sagemaker_model"), "endpoint_name": args.get("endpoint_name"),
                       "endpoint_config": args.get("endpoint_config"), "model_data": archive_path})
        write_bytes(layout.deployed_model_artifact(model_name), read_bytes(archive_path))
        pointer = {**record, "deployed_at": now,
                   "previous": None if previous is None else {k: previous.get(k) for k in
                                                              ("version", "endpoint_config", "deployed_at")}}
        write_json(pointer_path, pointer)
    write_json(f"{version_folder}/decision.json", record)
    return record


def run(_spark: Any, args: dict[str, Any]) -> dict[str, Any]:
    return run_job(JOB_NAME, args, lambda ctx: record_decision(ctx, args))


main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)

if __name__ == "__main__":
    main()
