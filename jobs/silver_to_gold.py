"""Glue job: build the gold tables as of a run date from silver.

- `customer_features`, partition `as_of_date=<run_date>`: one row per customer known that day, with
  its spend embedding and the feature-set version (`jobs.gold.embeddings`).
- `daily_merchant_metrics`, partitions `event_date=<day>`: the run date, plus every earlier day
  in the lookback window that received late records in this run's ingest date (rows whose
  `_ingest_date` is the run date), so those days' metrics include them.

Only the silver `transactions` partitions of the lookback window are read (a filter on the
`year`/`month`/`day` partition columns, which Spark turns into partition pruning); `customers`
is read whole because a customer's versions can sit in any partition. Both are read at one snapshot
each, taken when the job starts. Each gold table gets one Iceberg commit per run that replaces
exactly the requested partitions (one that comes out empty is emptied, so no stale rows survive),
staged and audited by the table's quality suite before it is published (write-audit-publish).
The returned report feeds the run manifest.

Arguments: `--run_date YYYY-MM-DD` (required); `--run_id`; `--lake_root` (default `lake`) or
`--silver_root`/`--gold_root`; `--lookback_days` (default and minimum 30: how far back
transactions are read, which also bounds `days_since_last_txn` and late-day detection);
`--recompute_late_days` (default true); `--refit_embedding` (default false: apply the feature set's
current embedding transform, fitting one only when there is none yet; true fits a new one, which
becomes a new feature-set version; `jobs.gold.embeddings`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import storage
from jobs.gold.embeddings import spend_profiles, with_embedding
from jobs.gold.feature_sets import transform_for_run
from jobs.gold.features import LONG_WINDOW_DAYS, customer_features
from jobs.gold.late_arrivals import late_event_days
from jobs.gold.merchant_metrics import daily_merchant_metrics_for_days
from jobs.gold.windows import window_days
from jobs.job_context import COMMON_OPTIONAL_ARGS, parse_flag
from jobs.lake import LakeLayout
from jobs.run_history import previous_table_rows
from jobs.runtime import glue_entry_point
from jobs.spark_work import measured
from jobs.tables import (
    StagedWrite,
    TableRef,
    current_snapshot,
    lake_catalog,
    partition_predicate,
    read_table,
    stage_table_write,
)
from jobs.wap import publish_all, refuse_if_failed, retry_on_conflict

if TYPE_CHECKING:
    from jobs.quality.gate import GateResult

JOB_NAME = "silver_to_gold"
REQUIRED_ARGS: list[str] = ["run_date"]
OPTIONAL_ARGS: dict[str, str | None] = {
    **COMMON_OPTIONAL_ARGS,
    "lookback_days": str(LONG_WINDOW_DAYS),
    "recompute_late_days": "true",
    "refit_embedding": "false",
}
FEATURES_TABLE = "customer_features"
METRICS_TABLE = "daily_merchant_metrics"
SILVER_PARTITION_COLUMNS = ("year", "month", "day")

# Only the silver columns gold needs: identifier columns are never even read. An explicit schema
# also keeps partition values as zero-padded strings and skips schema inference over the table.
TRANSACTIONS_READ_SCHEMA = T.StructType([
    T.StructField("transaction_id", T.StringType()),
    T.StructField("customer_id", T.StringType()),
    T.StructField("amount", T.DecimalType(12, 2)),
    T.StructField("merchant_id", T.StringType()),
    T.StructField("merchant_category", T.StringType()),
    T.StructField("channel", T.StringType()),
    T.StructField("event_time", T.TimestampType()),
    T.StructField("is_fraud", T.BooleanType()),
    T.StructField("_ingest_date", T.DateType()),
    T.StructField("_processed_at", T.TimestampType()),
    *[T.StructField(name, T.StringType()) for name in SILVER_PARTITION_COLUMNS],
])
CUSTOMERS_READ_SCHEMA = T.StructType([
    T.StructField("customer_id", T.StringType()),
    T.StructField("segment", T.StringType()),
    T.StructField("country", T.StringType()),
    T.StructField("created_at", T.TimestampType()),
    T.StructField("updated_at", T.TimestampType()),
    T.StructField("_processed_at", T.TimestampType()),
    *[T.StructField(name, T.StringType()) for name in SILVER_PARTITION_COLUMNS],
])


class SilverTableMissingError(RuntimeError):
    """A silver table the job needs does not exist (the message names the table and its folder)."""


def parse_run_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"--run_date must be YYYY-MM-DD, got {value!r}") from None


# --- I/O edge: the only code here that touches the lake ------------------------------------------

def silver_snapshot(spark: SparkSession, table: TableRef) -> int:
    """The snapshot the job reads `table` at; a table never written is an error naming it."""
    snapshot = current_snapshot(spark, table)
    if snapshot is None:
        raise SilverTableMissingError(
            f"silver table {table.identifier} ({table.location}) does not exist yet: ingest a date first")
    return snapshot


def read_silver(spark: SparkSession, table: TableRef, snapshot: int, schema: T.StructType) -> DataFrame:
    """Only the columns gold needs, typed as `schema` says (identifier columns are never read)."""
    rows = read_table(spark, table, snapshot)
    return rows.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def only_event_days(silver: DataFrame, days: Iterable[date]) -> DataFrame:
    """Keep the `year=/month=/day=` partitions of `days`; on partition columns only, so it prunes."""
    wanted = sorted({f"{d:%Y-%m-%d}" for d in days})
    partition_key = F.concat_ws("-", *SILVER_PARTITION_COLUMNS)
    return silver.where(partition_key.isin(*wanted))


def stage_gold_partitions(spark: SparkSession, table: TableRef, df: DataFrame, partition_column: str,
                          requested: Sequence[date], run_id: str, one_file_per_partition: bool = False,
                          ) -> tuple[StagedWrite, dict[str, int]]:
    """Stage one snapshot replacing the `requested` partitions of a gold table with `df`'s rows.

    A requested partition with no rows is emptied, so that re-running with less input never leaves
    stale rows behind. Returns the staged write and the rows per requested partition.
    `one_file_per_partition` suits small tables (no scatter of tiny files, one writer per partition).
    """
    if one_file_per_partition:
        df = df.repartition(partition_column)
    df = df.cache()
    try:
        counts = {row[partition_column].isoformat(): int(row["count"])
                  for row in df.groupBy(partition_column).count().collect()}
        staged = stage_table_write(spark, table, df, (partition_column,),
                                   partition_predicate((partition_column,), [(d,) for d in requested]),
                                   run_id=run_id, job=JOB_NAME)
    finally:
        df.unpersist()
    return staged, {day.isoformat(): counts.get(day.isoformat(), 0) for day in sorted(requested)}


# --- the job -------------------------------------------------------------------------------------

def metrics_days(transactions: DataFrame, run_date: date, recompute_late: bool) -> list[date]:
    """The run date plus, if asked, the earlier days that received late records this run."""
    days = {run_date}
    if recompute_late:
        days.update(row["event_date"] for row in late_event_days(transactions, run_date).collect())
    return sorted(days)


@contextmanager
def gated(spark: SparkSession, table: DataFrame, name: str, run_date: date, run_id: str, layout: LakeLayout,
          summaries: dict[str, Any], context: dict[str, Any] | None = None) -> Iterator[GateResult]:
    """Validate a gold table with its suite; `warn` ones are recorded in the job report, a `fail` verdict
    refuses the table's staged snapshot (`jobs.wap.refuse_if_failed`). What the gate cached for its
    validation is released when the block that stages the table ends. The gate measures the table's
    size itself (a few thousand rows validate on their collected rows: `run_quality_gate`)."""
    from jobs.quality import run_quality_gate

    result = run_quality_gate(spark, table, suite=name, layer="gold", contract=None,
                              run_date=run_date.isoformat(), run_id=run_id, ops_root=layout.ops, build_docs=False,
                              context=context, small_batch=None)
    try:
        summaries[name] = result.summary
        yield result
    finally:
        result.release()


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    """The job, run again on the new snapshot if another run commits to its tables first."""
    return retry_on_conflict(lambda: run_once(spark, args))


def run_once(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    with measured(JOB_NAME) as work:
        report, report_path = build_gold(spark, args)
    report["duration_seconds"] = round(work.seconds, 3)
    report["work"] = work.report()
    storage.write_json(report_path, report)
    return report


def build_gold(spark: SparkSession, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Gold for the run date (and the late days it touches), published; the report (its duration
    added by `run_once`, which times it) and where it goes."""
    run_date = parse_run_date(args["run_date"])
    run_id = args.get("run_id") or f"{JOB_NAME}-{run_date:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    lookback_days = max(int(args.get("lookback_days") or LONG_WINDOW_DAYS), LONG_WINDOW_DAYS)
    layout = LakeLayout.from_args(args)
    catalog = lake_catalog(spark, layout, args)
    transactions_table = catalog.table("silver", "transactions")
    customers_table = catalog.table("silver", "customers")
    read_snapshots = {"silver.transactions": silver_snapshot(spark, transactions_table),
                      "silver.customers": silver_snapshot(spark, customers_table)}

    lookback = window_days(run_date, lookback_days)
    quality: dict[str, Any] = {}
    transactions = only_event_days(read_silver(spark, transactions_table, read_snapshots["silver.transactions"],
                                               TRANSACTIONS_READ_SCHEMA), lookback).cache()
    customers = read_silver(spark, customers_table, read_snapshots["silver.customers"], CUSTOMERS_READ_SCHEMA)
    try:
        transactions_read = transactions.count()
        days = metrics_days(transactions, run_date,
                            parse_flag(args.get("recompute_late_days", "true")))
        # Late days older than the lookback cannot be rebuilt from what was read.
        days = [d for d in days if d >= lookback[0]]

        features_table = catalog.table("gold", FEATURES_TABLE)
        metrics_table = catalog.table("gold", METRICS_TABLE)
        # One snapshot per as_of day, so yesterday's snapshot size is comparable (daily_merchant_metrics
        # rewrites a varying number of days per run, so its row-count expectation stays skipped).
        previous_snapshot = previous_table_rows(layout, JOB_NAME, FEATURES_TABLE, run_date)
        profiles = spend_profiles(transactions, run_date)
        transform, embedding = transform_for_run(layout, profiles, run_date,
                                                 parse_flag(args.get("refit_embedding", "false")))
        features_rows = with_embedding(customer_features(transactions, customers, run_date), profiles, transform)
        with gated(spark, features_rows, FEATURES_TABLE,
                   run_date, run_id, layout, quality,
                   {} if previous_snapshot is None else {"previous_row_count": previous_snapshot}) as features:
            staged_features, features_rows_written = stage_gold_partitions(spark, features_table, features.valid,
                                                                   "as_of_date", [run_date], run_id)
            refuse_if_failed(features, staged_features)
        with gated(spark, daily_merchant_metrics_for_days(transactions, days), METRICS_TABLE,
                   run_date, run_id, layout, quality) as metrics:
            staged_metrics, metrics_rows = stage_gold_partitions(spark, metrics_table, metrics.valid, "event_date",
                                                                 days, run_id, one_file_per_partition=True)
            refuse_if_failed(metrics, staged_metrics)
        snapshots = publish_all(spark, [staged_features, staged_metrics])
    finally:
        transactions.unpersist()

    report = {
        "job": JOB_NAME,
        "run_id": run_id,
        "run_date": run_date.isoformat(),
        "inputs": {
            "transactions": {
                "path": transactions_table.location,
                "snapshot": read_snapshots["silver.transactions"],
                "event_days": [lookback[0].isoformat(), lookback[-1].isoformat()],
                "rows_read": transactions_read,
            },
            "customers": {"path": customers_table.location, "snapshot": read_snapshots["silver.customers"]},
        },
        "tables": {
            FEATURES_TABLE: {**_table_report(features_table.location, "as_of_date", features_rows_written),
                             **snapshots[features_table.display], "embedding": embedding},
            METRICS_TABLE: {
                **_table_report(metrics_table.location, "event_date", metrics_rows),
                **snapshots[metrics_table.display],
                "late_days": [d.isoformat() for d in days if d != run_date],
            },
        },
        "quality": quality,
    }
    pipeline = str(args.get("pipeline") or "ingestion")
    return report, layout.job_report(pipeline, run_date, run_id, JOB_NAME)


def _table_report(path: str, partition_column: str, rows: dict[str, int]) -> dict[str, Any]:
    return {
        "path": path,
        "partition_column": partition_column,
        "partitions": rows,
        "rows_written": sum(rows.values()),
    }


def main() -> dict[str, Any]:
    report = glue_entry_point(run, required=REQUIRED_ARGS, optional=OPTIONAL_ARGS)
    print(json.dumps(report, indent=2, sort_keys=True))
    return report


if __name__ == "__main__":
    main()
