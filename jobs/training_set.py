"""Glue job: the fraud model's point-in-time-correct training set, into gold `training_set`.

For run date D, labelled transactions of the `train_days` days before the held-out window and of
the `holdout_days` days ending on D (the later window, kept for evaluation) get the features
of `jobs.ml.features`: each row sees only what was known just before its transaction (velocity
windows end one second earlier, the gold snapshot is the previous day's). Written to the gold Iceberg
table `training_set` (partitions `as_of_date`, `split`) in one commit that replaces the run date's
splits, then exported from that very snapshot as Parquet files for SageMaker's File-mode channel
(`gold/sagemaker/training_set/as_of_date=D/split=train|holdout/`, each folder replaced whole). Rows
without a label are left out and counted. The report feeds the run manifest and names the snapshots of
the tables the set was built from (`input_snapshots`).

Arguments: `--run_date` (required), `--run_id`, `--pipeline`, lake roots, `--train_days`
(default 28), `--holdout_days` (default 7).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.gold.windows import window_days
from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.job_shell import glue_main, run_job
from jobs.lake import LakeLayout
from jobs.ml.feature_spec import LABEL_COLUMN
from jobs.ml.features import OUTPUT_COLUMNS, transaction_features
from jobs.ml.inputs import ModelInputs, snapshot_days
from jobs.storage import remove_tree, replace_folder
from jobs.tables import TableRef, lake_catalog, read_table, stage_table_write
from jobs.wap import publish_all

JOB_NAME = "training_set"
TABLE = "training_set"
PARTITION_COLUMNS = ("as_of_date", "split")
REQUIRED_ARGS = ["run_date"]
OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "train_days": "28", "holdout_days": "7", "input_snapshots": None}


def pinned_snapshots(args: dict[str, Any]) -> dict[str, int]:
    """`--input_snapshots '{"silver.transactions": 123, ...}'`: read those tables at those snapshots
    (a training run reproduced from the model registry); by default each table's current one."""
    raw = args.get("input_snapshots")
    if not raw:
        return {}
    parsed = json.loads(raw) if isinstance(raw, str) else raw
    return {str(table): int(snapshot) for table, snapshot in parsed.items()}


class TrainingSetError(RuntimeError):
    """The window cannot train or evaluate a model (the message says which split and why)."""


def split_windows(run_date: date, train_days: int, holdout_days: int) -> tuple[list[date], list[date]]:
    """(train days, holdout days): the holdout window ends on the run date, training precedes it."""
    holdout = window_days(run_date, holdout_days)
    train = window_days(holdout[0] - timedelta(days=1), train_days)
    return train, holdout


def labelled_with_split(features: DataFrame, holdout_start: date) -> DataFrame:
    """Keep labelled rows; `split` = holdout from `holdout_start` on, else train."""
    return features.where(F.col(LABEL_COLUMN).isNotNull()).withColumn(
        "split", F.when(F.col("event_date") >= F.lit(holdout_start), F.lit("holdout")).otherwise(F.lit("train")))


def split_counts(training_set: DataFrame) -> dict[str, dict[str, int]]:
    rows = training_set.groupBy("split").agg(F.count(F.lit(1)).alias("rows"),
                                            F.sum(LABEL_COLUMN).alias("positives")).collect()
    counts = {"train": {"rows": 0, "positives": 0}, "holdout": {"rows": 0, "positives": 0}}
    counts.update({r["split"]: {"rows": int(r["rows"]), "positives": int(r["positives"] or 0)} for r in rows})
    return counts


def check_trainable(counts: dict[str, dict[str, int]], windows: dict[str, list[str]]) -> None:
    for split, figures in counts.items():
        negatives = figures["rows"] - figures["positives"]
        if figures["positives"] == 0 or negatives == 0:
            raise TrainingSetError(
                f"the {split} window {windows[split][0]}..{windows[split][-1]} has {figures['rows']} labelled rows "
                f"with {figures['positives']} fraud: both classes are needed; ingest more days or widen the window")


def export_channels(spark: SparkSession, table: TableRef, snapshot: int, layout: LakeLayout, as_of: str,
                    run_id: str) -> dict[str, str]:
    """Each split of the published snapshot as Parquet files in SageMaker's channel folder."""
    published = read_table(spark, table, snapshot).where(F.col("as_of_date") == F.lit(as_of))
    channels = {}
    for split in ("train", "holdout"):
        target = layout.sagemaker_channel(TABLE, as_of, split)
        staging = layout.staging(f"{layout.gold}/sagemaker/{TABLE}", f"{run_id}-{as_of}-{split}")
        remove_tree(staging)
        published.where(F.col("split") == split).drop(*PARTITION_COLUMNS).write.mode("overwrite").parquet(staging)
        replace_folder(staging, target)
        channels[split] = target
    return channels


def build_training_set(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """The run date's splits published to gold and exported for SageMaker; the report's own fields."""
    layout = ctx.layout
    train_days, holdout_days = split_windows(ctx.run_date, int(args.get("train_days") or 28),
                                             int(args.get("holdout_days") or 7))
    first_day = train_days[0]
    history_days = [first_day - timedelta(days=1), *train_days, *holdout_days]
    catalog = lake_catalog(spark, layout, args)
    inputs = ModelInputs(spark, catalog, pinned=pinned_snapshots(args))
    snapshots = inputs.customer_features(history_days[:-1])
    features = transaction_features(inputs.transactions(history_days), inputs.customers(),
                                     snapshots, first_day=first_day)
    as_of = ctx.run_date.isoformat()
    content = (labelled_with_split(features, holdout_days[0])
               .withColumn("as_of_date", F.lit(as_of))
               .select(*OUTPUT_COLUMNS, LABEL_COLUMN, *PARTITION_COLUMNS)
               .persist(StorageLevel.MEMORY_AND_DISK))
    try:
        windows = {"train": [d.isoformat() for d in train_days], "holdout": [d.isoformat() for d in holdout_days]}
        counts = split_counts(content)
        unlabelled = features.where(F.col(LABEL_COLUMN).isNull()).count()
        check_trainable(counts, windows)
        table = catalog.table("gold", TABLE)
        staged = stage_table_write(spark, table, content, PARTITION_COLUMNS, F.col("as_of_date") == F.lit(as_of),
                                   run_id=ctx.run_id, job=JOB_NAME)
        published = publish_all(spark, [staged])[table.display]
        channels = export_channels(spark, table, published["snapshot_after"], layout, as_of, ctx.run_id)
    finally:
        content.unpersist()
    missing_snapshots = sorted(set(history_days[:-1]) - snapshot_days(snapshots))
    return {
        "windows": {split: [days[0], days[-1]] for split, days in windows.items()},
        "splits": counts,
        "unlabelled_rows_left_out": unlabelled,
        "feature_snapshot_days_missing": [d.isoformat() for d in missing_snapshots],
        # the table snapshots this training set was built from (recorded in the model registry):
        # `--input_snapshots '<this JSON>'` rebuilds it from exactly the same data
        "input_snapshots": inputs.snapshots,
        "tables": {TABLE: {"path": table.location, "partition": f"as_of_date={as_of}",
                           "rows_written": sum(c["rows"] for c in counts.values()), **published}},
        "sagemaker_channels": channels,
    }


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    return run_job(JOB_NAME, args, lambda ctx: build_training_set(spark, ctx, args))


main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)

if __name__ == "__main__":
    main()
