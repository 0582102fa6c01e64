"""Glue job: evaluate a trained fraud model on the held-out window and write its metrics.

Scores the training set's `holdout` split (the days after everything the model was trained on)
with the candidate (SageMaker's model.tar.gz of `--training_job_name`), with the trivial
baselines, and with the currently deployed model if there is one (on the same rows, so the
comparison is fair). Writes `<registry>/<version>/metrics.json`, which the training state machine
reads to decide, and unpacks `model.joblib` beside it. Never decides anything itself.

Arguments: `--run_date`, `--training_job_name` (required), `--run_id` (the model version),
`--model_name` (default fraud_model), `--pipeline`, lake roots.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.job_shell import glue_main, run_job
from jobs.lake import LakeLayout
from jobs.ml import evaluate, model_bundle
from jobs.ml.artifacts import DEFAULT_MODEL_NAME, extract_member, require, training_output_archive
from jobs.ml.feature_spec import LABEL_COLUMN
from jobs.storage import exists, read_bytes, read_json, write_bytes, write_json
from jobs.training_set import TABLE as TRAINING_SET_TABLE

JOB_NAME = "evaluate_model"
METRICS_FILE = "metrics.json"
REQUIRED_ARGS = ["run_date", "training_job_name"]
OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "model_name": DEFAULT_MODEL_NAME}


def load_archived_bundle(archive: bytes) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, model_bundle.BUNDLE_FILE).write_bytes(extract_member(archive, model_bundle.BUNDLE_FILE))
        return model_bundle.load_bundle(folder)


def read_split(spark: SparkSession, layout: LakeLayout, as_of: str, split: str, args: dict[str, Any]) -> Any:
    """One split of the run date's training set, from the gold table (the snapshot current now, which
    the training_set job of this run published)."""
    from pyspark.sql import functions as F

    from jobs.tables import lake_catalog, read_if_exists

    table = lake_catalog(spark, layout, args).table("gold", TRAINING_SET_TABLE)
    rows = read_if_exists(spark, table)
    if rows is None:
        raise FileNotFoundError(f"the training set's {split} split for {as_of}: no table {table.identifier} "
                                f"({table.location}); run the training_set job first")
    return rows.where((F.col("as_of_date") == F.lit(as_of)) & (F.col("split") == F.lit(split))).drop(
        "as_of_date", "split")


def deployed_champion(layout: LakeLayout, model_name: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(pointer, bundle) of the deployed model, or None before the first deployment."""
    pointer_path = layout.deployed_model_pointer(model_name)
    if not exists(pointer_path):
        return None
    pointer = read_json(pointer_path)
    return pointer, load_archived_bundle(read_bytes(layout.deployed_model_artifact(model_name)))


def evaluation_document(candidate: dict[str, Any], holdout: pd.DataFrame, training_fraud_rate: float,
                        champion: tuple[dict[str, Any], dict[str, Any]] | None,
                        identity: dict[str, Any]) -> dict[str, Any]:
    """metrics.json: `identity` (model, version, job...), the holdout window and `evaluate.evaluate`'s figures."""
    labels = holdout[LABEL_COLUMN].to_numpy(dtype=int)
    metrics = evaluate.evaluate(
        labels,
        model_bundle.fraud_scores(candidate, holdout),
        candidate["decision_threshold"],
        evaluate.baseline_scores(holdout["amount"], training_fraud_rate),
        None if champion is None else model_bundle.fraud_scores(champion[1], holdout),
    )
    if champion is not None:
        metrics["champion"]["version"] = champion[0].get("version")
    days = sorted(str(d)[:10] for d in holdout["event_date"].unique()) if len(holdout) else []
    return {
        **identity,
        "evaluated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "holdout_window": [days[0], days[-1]] if days else [],
        "training": candidate.get("training", {}),
        **metrics,
    }


def write_evaluation(layout: LakeLayout, model_name: str, version: str, archive: bytes,
                     document: dict[str, Any]) -> str:
    """The version's registry folder gets metrics.json and the unpacked model.joblib."""
    version_folder = layout.model_version(model_name, version)
    write_bytes(f"{version_folder}/{model_bundle.BUNDLE_FILE}", extract_member(archive, model_bundle.BUNDLE_FILE))
    write_json(f"{version_folder}/{METRICS_FILE}", document)
    return f"{version_folder}/{METRICS_FILE}"


def evaluate_version(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """metrics.json and model.joblib in the version's registry folder; the report's own fields."""
    layout = ctx.layout
    model_name = str(args.get("model_name") or DEFAULT_MODEL_NAME)
    version, as_of = ctx.run_id, ctx.run_date.isoformat()
    archive_path = require(training_output_archive(layout, model_name, version, args["training_job_name"]),
                           "the training job's model archive")
    archive = read_bytes(archive_path)
    train_totals = read_split(spark, layout, as_of, "train", args).agg(
        F.count(F.lit(1)).alias("rows"), F.sum(LABEL_COLUMN).alias("positives")).first()
    training_fraud_rate = float(train_totals["positives"] or 0) / max(int(train_totals["rows"]), 1)
    holdout: pd.DataFrame = read_split(spark, layout, as_of, "holdout", args).toPandas()
    document = evaluation_document(
        load_archived_bundle(archive), holdout, training_fraud_rate, deployed_champion(layout, model_name),
        {"model_name": model_name, "version": version, "training_job_name": args["training_job_name"],
         "model_data": archive_path})
    metrics_path = write_evaluation(layout, model_name, version, archive, document)
    return {
        "metrics_path": metrics_path,
        "auc": document["auc"],
        "baseline_auc": document["baseline"]["auc"] if document["baseline"] else None,
        "champion_auc": document["champion"]["auc"] if document["champion"] else None,
        "precision": document["precision"],
        "recall": document["recall"],
        "threshold": document["threshold"],
    }


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    return run_job(JOB_NAME, args, lambda ctx: evaluate_version(spark, ctx, args))


main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)

if __name__ == "__main__":
    main()
