"""Glue job: the day's feature drift against the deployed model's training baseline, into gold
`feature_drift`.

Runs in the batch-inference pipeline after the scores are stored, so it sees each ingestion date's
model inputs exactly as the model was served them: gold `scoring_input` for the date (the day's
transactions' features) joined to the day's gold `fraud_scores`. Every statistic comes from ONE
Spark aggregate over that frame, binned at the baseline's quantile edges (`jobs.drift`). Writes:

- gold `feature_drift`: one row per feature (and the score) for the date and source, the date's
  partition replaced in one commit (write-audit-publish like every gold table);
- `ops/drift/event_date=D/source=S/report.html`: one plot per feature, baseline vs current;
- the verdict document (date, verdict, features at warn / retrain, report) to the model registry:
  `<registry>/drift/<D>.json`, which the batch-inference state machine reads to alert (its
  `DriftCrossed` Choice and `NotifyDrift` on the alert topic), and `<registry>/drift/latest.json`, the
  newest date's, which the training state machine's Choices read (a backfill of an older date leaves
  a newer verdict in place).

A deployed version without a recorded baseline (trained before baselines existed) is not measured:
the verdict is `no_baseline`, the report says so, and the run goes on (the next training records one).

Arguments: `--run_date` (required), `--run_id`, `--pipeline`, `--model_name`, `--source`,
`--drift_warn_psi`, `--drift_retrain_psi`, lake roots.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.drift.baseline import MissingBaselineError, current_profiles, load_baseline
from jobs.drift.compare import FeatureDrift, compare, overall_verdict
from jobs.drift.features import SCORE_FEATURE
from jobs.drift.report import render_report
from jobs.drift.settings import RETRAIN, WARN, DriftSettings
from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.job_shell import glue_main, run_job
from jobs.lake import LakeLayout
from jobs.ml.artifacts import DEFAULT_MODEL_NAME
from jobs.ml.feature_spec import FEATURE_COLUMNS, ID_COLUMN
from jobs.scoring_input import deployed_version, scoring_partition
from jobs.storage import exists, read_json, write_json, write_text
from jobs.tables import lake_catalog, partition_predicate, read_if_exists, stage_table_write
from jobs.wap import publish_all

JOB_NAME = "feature_drift"
TABLE = "feature_drift"
SCORES_TABLE = "fraud_scores"
DEFAULT_SOURCE = "batch_inference"
PARTITION_COLUMNS = ("event_date", "source")
REQUIRED_ARGS = ["run_date"]
OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "model_name": DEFAULT_MODEL_NAME, "source": DEFAULT_SOURCE,
                 "drift_warn_psi": None, "drift_retrain_psi": None}
NO_BASELINE = "no_baseline"
SCORING_INPUT_SCHEMA = T.StructType([T.StructField(ID_COLUMN, T.StringType()),
                                     *[T.StructField(c, T.DoubleType()) for c in FEATURE_COLUMNS]])
FEATURE_DRIFT_SCHEMA = T.StructType([
    T.StructField("feature", T.StringType()),
    T.StructField("kind", T.StringType()),
    T.StructField("psi", T.DoubleType()),
    T.StructField("verdict", T.StringType()),
    T.StructField("rows", T.LongType()),
    T.StructField("null_rate", T.DoubleType()),
    T.StructField("baseline_null_rate", T.DoubleType()),
    T.StructField("mean", T.DoubleType()),
    T.StructField("baseline_mean", T.DoubleType()),
    T.StructField("std", T.DoubleType()),
    T.StructField("baseline_std", T.DoubleType()),
    T.StructField("bins", T.ArrayType(T.StringType())),
    T.StructField("baseline_shares", T.ArrayType(T.DoubleType())),
    T.StructField("current_shares", T.ArrayType(T.DoubleType())),
    T.StructField("model_version", T.StringType()),
    T.StructField("_run_id", T.StringType()),
    T.StructField("_computed_at", T.TimestampType()),
    T.StructField("event_date", T.StringType()),
    T.StructField("source", T.StringType()),
])


class NoScoringInputError(FileNotFoundError):
    """The day has no batch-inference input to measure."""


def scored_features(spark: SparkSession, layout: LakeLayout, args: dict[str, Any], day: date) -> DataFrame:
    """The day's scoring input with each transaction's stored score (null when not scored)."""
    folder = scoring_partition(layout, day)
    if not exists(folder):
        raise NoScoringInputError(f"no scoring input for {day} at {folder}: run the batch-inference pipeline "
                                  f"(or its scoring_input job) for {day} first")
    features = spark.read.schema(SCORING_INPUT_SCHEMA).json(folder)
    scores = read_if_exists(spark, lake_catalog(spark, layout, args).table("gold", SCORES_TABLE))
    if scores is None:
        return features.withColumn(SCORE_FEATURE, F.lit(None).cast("double"))
    day_scores = scores.where(F.col("event_date") == F.lit(day.isoformat())).select(ID_COLUMN, SCORE_FEATURE)
    return features.join(day_scores, on=ID_COLUMN, how="left")


def drift_rows(spark: SparkSession, results: list[FeatureDrift], day: date, source: str, model_version: str,
               run_id: str, computed_at: datetime) -> DataFrame:
    extra = {"model_version": model_version, "_run_id": run_id, "_computed_at": computed_at,
             "event_date": day.isoformat(), "source": source}
    rows = [{**r.as_row(), **extra} for r in results]
    return spark.createDataFrame([tuple(row[f.name] for f in FEATURE_DRIFT_SCHEMA.fields) for row in rows],
                                 FEATURE_DRIFT_SCHEMA)


def update_latest_verdict(path: str, verdict: dict[str, Any]) -> bool:
    """Write the verdict unless the file already holds a LATER date's; True when written."""
    if exists(path) and str(read_json(path).get("date", "")) > verdict["date"]:
        return False
    write_json(path, verdict)
    return True


def verdict_document(day: date, source: str, model_version: str, results: list[FeatureDrift], verdict: str,
                     report_path: str | None, run_id: str) -> dict[str, Any]:
    """What the state machines read: the verdict, the features at each level (with their PSI, for the alert)."""
    features = [r for r in results if r.kind != "score"]
    by_verdict = {v: sorted(r.feature for r in features if r.verdict == v) for v in (WARN, RETRAIN)}
    crossed = "; ".join(f"{r.feature} PSI {r.psi:.3f} ({r.verdict})"
                        for r in sorted(features, key=lambda r: -r.psi) if r.verdict in (WARN, RETRAIN))
    return {"date": day.isoformat(), "source": source, "model_version": model_version, "verdict": verdict,
            "warn": by_verdict[WARN], "retrain": by_verdict[RETRAIN], "crossed": crossed or "none",
            "report": report_path, "run_id": run_id}


def record_verdict(layout: LakeLayout, model_name: str, document: dict[str, Any]) -> bool:
    """The date's verdict file, and latest.json unless it holds a later date; True when latest was written."""
    write_json(layout.drift_verdict(model_name, date.fromisoformat(document["date"])), document)
    return update_latest_verdict(layout.drift_verdict(model_name), document)


def not_measured(ctx: JobContext, model_name: str, source: str, version: str, why: str) -> dict[str, Any]:
    """The `no_baseline` verdict recorded; the report's own fields."""
    print(f"feature drift not measured for {ctx.run_date}: {why}", file=sys.stderr)
    document = {**verdict_document(ctx.run_date, source, version, [], NO_BASELINE, None, ctx.run_id), "why": why}
    record_verdict(ctx.layout, model_name, document)
    return {"model_version": version, "verdict": NO_BASELINE, "drift": document, "drift_report": None}


def measure_drift(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """The day's drift written to gold, the HTML report and the verdict files; the report's own fields."""
    layout, day = ctx.layout, ctx.run_date
    settings = DriftSettings.from_args(args)
    model_name = str(args.get("model_name") or DEFAULT_MODEL_NAME)
    source = str(args.get("source") or DEFAULT_SOURCE)
    version = deployed_version(layout, model_name)
    try:
        baseline = load_baseline(layout, model_name, version)
    except MissingBaselineError as missing:
        return not_measured(ctx, model_name, source, version, str(missing))
    profiles = current_profiles(scored_features(spark, layout, args, day), baseline, score_column=SCORE_FEATURE)
    results = compare(baseline, profiles, settings)
    verdict = overall_verdict(results)

    table = lake_catalog(spark, layout, args).table("gold", TABLE)
    content = drift_rows(spark, results, day, source, version, ctx.run_id, datetime.now(UTC).replace(tzinfo=None))
    staged = stage_table_write(spark, table, content, PARTITION_COLUMNS,
                               partition_predicate(PARTITION_COLUMNS, [(day.isoformat(), source)]),
                               run_id=ctx.run_id, job=JOB_NAME)
    snapshots = publish_all(spark, [staged])

    report_path = layout.drift_report(day, source)
    write_text(report_path, render_report(day.isoformat(), source, version, results, verdict, settings))
    document = verdict_document(day, source, version, results, verdict, report_path, ctx.run_id)
    latest_written = record_verdict(layout, model_name, document)
    return {
        "model_version": version,
        "verdict": verdict,
        "drift": document,
        "drift_report": report_path,
        "latest_verdict_updated": latest_written,
        "tables": {TABLE: {"path": table.location, "partition": f"event_date={day.isoformat()}/source={source}",
                           "rows_written": len(results), **snapshots[table.display]}},
    }


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    return run_job(JOB_NAME, args, lambda ctx: measure_drift(spark, ctx, args), retry_on_conflict=True)


main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)

if __name__ == "__main__":
    main()
