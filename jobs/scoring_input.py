"""Glue job: the day's scoring input for batch inference, into gold `scoring_input`.

For run date D: every silver transaction with event date D gets the same point-in-time features
as the training set (`jobs.ml.features`; the day before D feeds the velocity windows), written as
JSON lines (`transaction_id` + the feature columns, null = missing) to
`gold/scoring_input/event_date=D/part-00000.jsonl`, the format the SageMaker transform job reads
line by line. The folder is replaced atomically. The job fails early, before any work, when no
model has been deployed yet (run the training pipeline first), and fails on a day without
transactions (nothing to score; SageMaker would reject an empty input).

Arguments: `--run_date` (required), `--run_id`, `--pipeline`, `--model_name`, lake roots.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.job_shell import glue_main, run_job
from jobs.lake import LakeLayout
from jobs.ml.artifacts import DEFAULT_MODEL_NAME
from jobs.ml.feature_spec import FEATURE_COLUMNS, ID_COLUMN
from jobs.ml.features import transaction_features
from jobs.ml.inputs import ModelInputs, snapshot_days
from jobs.storage import exists, read_json, remove_tree, replace_folder, write_text
from jobs.tables import lake_catalog

JOB_NAME = "scoring_input"
TABLE = "scoring_input"
FILE_NAME = "part-00000.jsonl"
REQUIRED_ARGS = ["run_date"]
OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "model_name": DEFAULT_MODEL_NAME}


class NothingToScoreError(RuntimeError):
    pass


class NoDeployedModelError(RuntimeError):
    pass


def deployed_version(layout: LakeLayout, model_name: str) -> str:
    pointer = layout.deployed_model_pointer(model_name)
    if not exists(pointer):
        raise NoDeployedModelError(f"no {model_name} model is deployed yet ({pointer} does not exist): "
                                   "run the training pipeline first")
    return str(read_json(pointer).get("version"))


def scoring_partition(layout: LakeLayout, day: date) -> str:
    """Where the transform job reads the day's input (the state machine names the same prefix)."""
    return f"{layout.gold_table(TABLE)}/event_date={day.isoformat()}"


def scoring_rows(features: DataFrame) -> DataFrame:
    return features.select(ID_COLUMN, *FEATURE_COLUMNS).orderBy(ID_COLUMN)


def to_json_lines(rows: DataFrame) -> tuple[str, int]:
    """(text, row count): one JSON object per line; NaN/None become null (missing to the model)."""
    frame = rows.toPandas()
    if frame.empty:
        return "", 0
    text = frame.to_json(orient="records", lines=True, double_precision=15)
    return (text if text.endswith("\n") else text + "\n"), len(frame)


def build_scoring_input(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """The day's features as the transform job's input folder; the report's own fields."""
    layout = ctx.layout
    day = ctx.run_date
    version = deployed_version(layout, str(args.get("model_name") or DEFAULT_MODEL_NAME))
    inputs = ModelInputs(spark, lake_catalog(spark, layout, args))
    snapshots = inputs.customer_features([day - timedelta(days=1)])
    features = transaction_features(inputs.transactions([day - timedelta(days=1), day]),
                                    inputs.customers(), snapshots, first_day=day)
    text, rows = to_json_lines(scoring_rows(features))
    if rows == 0:
        raise NothingToScoreError(f"no silver transactions with event date {day} to score "
                                  f"(was the ingestion pipeline run for {day}?)")
    target = scoring_partition(layout, day)
    staging = layout.staging(layout.gold_table(TABLE), ctx.run_id)
    remove_tree(staging)
    write_text(f"{staging}/{FILE_NAME}", text)
    replace_folder(staging, target)
    return {
        "deployed_model_version": version,
        "feature_snapshot_missing": not snapshot_days(snapshots),
        "input_snapshots": inputs.snapshots,
        "tables": {TABLE: {"path": target, "rows_written": rows}},
    }


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    return run_job(JOB_NAME, args, lambda ctx: build_scoring_input(spark, ctx, args))


main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)

if __name__ == "__main__":
    main()
