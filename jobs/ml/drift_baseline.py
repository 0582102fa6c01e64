"""Glue job: record a trained model version's drift baseline beside it in the registry.

Runs in the training pipeline after the evaluation (which unpacks the version's model.joblib). The
baseline is the training split's profile per model input (quantile bin edges and shares, category
shares, null rate, mean, std) plus the profile of the candidate's scores on the held-out window,
written to `<registry>/<version>/drift_baseline.json` (`jobs.drift.baseline`). Every later
feature_drift run of the days this version scores is measured against it.

Arguments: `--run_date` (required), `--run_id` (the model version), `--model_name`, `--pipeline`,
lake roots.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from pyspark.sql import SparkSession

from jobs.drift.baseline import baseline_document, baseline_path, feature_profiles, score_profile
from jobs.drift.features import SCORE_FEATURE
from jobs.drift.settings import DriftSettings
from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.job_shell import glue_main, run_job
from jobs.ml import model_bundle
from jobs.ml.artifacts import DEFAULT_MODEL_NAME, require
from jobs.ml.evaluate_model import read_split
from jobs.storage import read_bytes, write_json

JOB_NAME = "drift_baseline"
REQUIRED_ARGS = ["run_date"]
OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "model_name": DEFAULT_MODEL_NAME}


def load_version_bundle(bundle_path: str) -> dict[str, Any]:
    """The version's unpacked model.joblib (local or S3)."""
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, model_bundle.BUNDLE_FILE).write_bytes(read_bytes(bundle_path))
        return model_bundle.load_bundle(folder)


def record_baseline(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """The version's baseline document beside it in the registry; the report's own fields."""
    layout = ctx.layout
    model_name = str(args.get("model_name") or DEFAULT_MODEL_NAME)
    version, as_of = ctx.run_id, ctx.run_date.isoformat()
    settings = DriftSettings()
    bundle = load_version_bundle(require(f"{layout.model_version(model_name, version)}/{model_bundle.BUNDLE_FILE}",
                                         "the evaluated model (run the evaluate_model job first)"))
    train = read_split(spark, layout, as_of, "train", args)
    features = feature_profiles(train, settings)
    holdout: pd.DataFrame = read_split(spark, layout, as_of, "holdout", args).toPandas()
    score = None
    if len(holdout):
        scores = pd.DataFrame({SCORE_FEATURE: model_bundle.fraud_scores(bundle, holdout).astype(float)})
        score = score_profile(spark.createDataFrame(scores), settings)
    document = baseline_document(model_name, version, features, score, settings,
                                 bundle.get("training", {}).get("window", []))
    path = baseline_path(layout, model_name, version)
    write_json(path, document)
    rows = next(iter(features.values()))["rows"] if features else 0
    return {"baseline_path": path, "training_rows": rows, "holdout_scores": len(holdout), "features": len(features)}


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    return run_job(JOB_NAME, args, lambda ctx: record_baseline(spark, ctx, args))


main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)

if __name__ == "__main__":
    main()
