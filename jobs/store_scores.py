"""Glue job: store the batch transform's scores in gold `fraud_scores`, one per transaction.

Reads the transform output (JSON lines, one per scored transaction) of this run from
`gold/model_scores/event_date=D/run_id=<run_id>/` and checks it against the day's scoring input:
every input transaction scored exactly once, no unknown ids, scores within 0..1 (otherwise the job
fails and publishes nothing). The scores are joined back to the silver transactions by
`transaction_id` and the day's partition of the gold Iceberg table `fraud_scores` is replaced in one
commit, so a re-run for the day replaces its scores.

Arguments: `--run_date` (required), `--run_id`, `--pipeline`, lake roots.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import storage
from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.job_shell import glue_main, run_job
from jobs.lake import LakeLayout
from jobs.ml.inputs import ModelInputs
from jobs.scoring_input import scoring_partition
from jobs.tables import lake_catalog, partition_predicate, stage_table_write
from jobs.wap import publish_all

JOB_NAME = "store_scores"
TABLE = "fraud_scores"
TRANSFORM_OUTPUT_TABLE = "model_scores"
PARTITION_COLUMNS = ("event_date",)
REQUIRED_ARGS = ["run_date"]
OPTIONAL_ARGS = dict(COMMON_OPTIONAL_ARGS)
SCORE_SCHEMA = T.StructType([
    T.StructField("transaction_id", T.StringType()),
    T.StructField("fraud_score", T.DoubleType()),
    T.StructField("is_flagged", T.BooleanType()),
    T.StructField("model_version", T.StringType()),
])
FRAUD_SCORES_COLUMNS = ("transaction_id", "customer_id", "event_time", "fraud_score", "is_flagged", "model_version",
                        "_run_id", "_scored_at", "event_date")


class ScoresMismatchError(RuntimeError):
    """The transform output does not hold exactly one valid score per input transaction."""


def transform_output(layout: LakeLayout, day: date, run_id: str) -> str:
    """Where the transform job of this run wrote (the state machine names the same prefix)."""
    return f"{layout.gold_table(TRANSFORM_OUTPUT_TABLE)}/event_date={day.isoformat()}/run_id={run_id}"


def score_problems(scores: DataFrame, expected_ids: DataFrame, limit: int = 5) -> list[str]:
    """Why the scores cannot be stored, as readable sentences (empty when they can)."""
    problems = []
    duplicated = scores.groupBy("transaction_id").count().where(F.col("count") > 1)
    missing = expected_ids.join(scores, on="transaction_id", how="left_anti")
    unknown = scores.select("transaction_id").join(expected_ids, on="transaction_id", how="left_anti")
    invalid = scores.where(F.col("fraud_score").isNull() | (F.col("fraud_score") < 0) | (F.col("fraud_score") > 1))
    for what, frame in (("scored more than once", duplicated), ("in the input but not scored", missing),
                        ("scored but not in the input", unknown), ("with a score outside 0..1", invalid)):
        count = frame.count()
        if count:
            sample = ", ".join(str(r["transaction_id"]) for r in frame.select("transaction_id").limit(limit).collect())
            problems.append(f"{count} transaction(s) {what} (e.g. {sample})")
    return problems


def fraud_score_rows(scores: DataFrame, transactions: DataFrame, day: date, run_id: str,
                     scored_at: datetime) -> DataFrame:
    """Scores joined back to their transactions (customer and event time from silver)."""
    known = transactions.select("transaction_id", "customer_id", "event_time").dropDuplicates(["transaction_id"])
    return (scores.join(known, on="transaction_id", how="left")
            .withColumn("_run_id", F.lit(run_id))
            .withColumn("_scored_at", F.lit(scored_at).cast("timestamp"))
            .withColumn("event_date", F.lit(day.isoformat()))
            .select(*FRAUD_SCORES_COLUMNS))


def store_day_scores(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Check the transform output against the day's input, then replace the day's partition; the
    report's own fields."""
    layout = ctx.layout
    day = ctx.run_date
    output_path = transform_output(layout, day, ctx.run_id)
    if not storage.list_files(output_path):
        raise ScoresMismatchError(f"no transform output under {output_path}")
    scores = spark.read.schema(SCORE_SCHEMA).json(output_path).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        expected = spark.read.json(scoring_partition(layout, day)).select("transaction_id")
        problems = score_problems(scores, expected)
        if problems:
            raise ScoresMismatchError(f"scores for {day} in {output_path} were not stored: " + "; ".join(problems))
        catalog = lake_catalog(spark, layout, args)
        inputs = ModelInputs(spark, catalog)
        content = fraud_score_rows(scores, inputs.transactions([day]), day, ctx.run_id,
                                   datetime.now(UTC).replace(tzinfo=None))
        table = catalog.table("gold", TABLE)
        staged = stage_table_write(spark, table, content, PARTITION_COLUMNS,
                                   partition_predicate(PARTITION_COLUMNS, [(day.isoformat(),)]),
                                   run_id=ctx.run_id, job=JOB_NAME)
        snapshots = publish_all(spark, [staged])
        totals = scores.agg(F.count(F.lit(1)).alias("rows"), F.sum(F.col("is_flagged").cast("int")).alias("flagged"),
                            F.collect_set("model_version").alias("versions")).first()
    finally:
        scores.unpersist()
    return {
        "transform_output": output_path,
        "flagged": int(totals["flagged"] or 0),
        "model_versions": sorted(totals["versions"]),
        "input_snapshots": inputs.snapshots,
        "tables": {TABLE: {"path": table.location, "partition": f"event_date={day.isoformat()}",
                           "rows_written": int(totals["rows"]), **snapshots[table.display]}},
    }


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    """The job, run again on the new snapshot if another run commits to its tables first."""
    return run_job(JOB_NAME, args, lambda ctx: store_day_scores(spark, ctx, args), retry_on_conflict=True)


main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)

if __name__ == "__main__":
    main()
