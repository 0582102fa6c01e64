"""Glue job: build the gold tables as of a run date from silver.

- `customer_features`, partition `as_of_date=<run_date>`: one row per customer known that day.
- `daily_merchant_metrics`, partitions `event_date=<day>`: the run date, plus every earlier day
  in the lookback window that received late records in this run's ingest date (rows whose
  `_ingest_date` is the run date), so those days' metrics include them.

Only the silver `transactions` partitions of the lookback window are read (a filter on the
`year`/`month`/`day` partition columns, which Spark turns into partition pruning); `customers`
is read whole because a customer's versions can sit in any partition. Each written partition is
replaced whole (dynamic overwrite); a requested partition that comes out empty is removed so no
stale rows survive. The returned report feeds the run manifest.

Arguments: `--run_date YYYY-MM-DD` (required); `--run_id`; `--lake_root` (default `lake`) or
`--silver_root`/`--gold_root`; `--lookback_days` (default and minimum 30: how far back
transactions are read, which also bounds `days_since_last_txn` and late-day detection);
`--recompute_late_days` (default true).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import storage
from jobs.gold.features import LONG_WINDOW_DAYS, customer_features
from jobs.gold.late_arrivals import late_event_days
from jobs.gold.merchant_metrics import daily_merchant_metrics_for_days
from jobs.gold.windows import window_days
from jobs.job_context import COMMON_OPTIONAL_ARGS
from jobs.lake import LakeLayout
from jobs.publish import publish_partitions
from jobs.run_history import previous_table_rows
from jobs.runtime import glue_entry_point

JOB_NAME = "silver_to_gold"
REQUIRED_ARGS: list[str] = ["run_date"]
OPTIONAL_ARGS: dict[str, str | None] = {
    **COMMON_OPTIONAL_ARGS,
    "lookback_days": str(LONG_WINDOW_DAYS),
    "recompute_late_days": "true",
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
    """A silver table the job needs does not exist (the message names the path)."""


def parse_run_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"--run_date must be YYYY-MM-DD, got {value!r}") from None


def parse_flag(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "y"}


# --- I/O edge: the only code here that touches the lake ------------------------------------------

def read_silver(spark: SparkSession, path: str, schema: T.StructType) -> DataFrame:
    if not storage.exists(path):
        raise SilverTableMissingError(f"silver table not found at {path}")
    return spark.read.schema(schema).parquet(path)


def only_event_days(silver: DataFrame, days: Iterable[date]) -> DataFrame:
    """Keep the `year=/month=/day=` partitions of `days`; on partition columns only, so it prunes."""
    wanted = sorted({f"{d:%Y-%m-%d}" for d in days})
    partition_key = F.concat_ws("-", *SILVER_PARTITION_COLUMNS)
    return silver.where(partition_key.isin(*wanted))


def write_gold_partitions(df: DataFrame, table_path: str, partition_column: str,
                          requested: Sequence[date], staging: str,
                          one_file_per_partition: bool = False) -> dict[str, int]:
    """Replace the `requested` partitions of a gold table with `df`'s rows; rows per partition.

    Published through the run's staging folder and swapped in partition by partition (see
    `jobs.publish`), so readers never see a half-written partition; a requested partition with no
    rows is deleted, so that re-running with less input never leaves stale rows behind.
    `one_file_per_partition` suits small tables (no scatter of tiny files, one writer per partition).
    """
    if one_file_per_partition:
        df = df.repartition(partition_column)
    df = df.cache()
    try:
        counts = {row[partition_column].isoformat(): int(row["count"])
                  for row in df.groupBy(partition_column).count().collect()}
        publish_partitions(df, table_path, [(day.isoformat(),) for day in requested], staging,
                           columns=(partition_column,))
    finally:
        df.unpersist()
    return {day.isoformat(): counts.get(day.isoformat(), 0) for day in sorted(requested)}


# --- the job -------------------------------------------------------------------------------------

def metrics_days(transactions: DataFrame, run_date: date, recompute_late: bool) -> list[date]:
    """The run date plus, if asked, the earlier days that received late records this run."""
    days = {run_date}
    if recompute_late:
        days.update(row["event_date"] for row in late_event_days(transactions, run_date).collect())
    return sorted(days)


@contextmanager
def gated(spark: SparkSession, table: DataFrame, name: str, run_date: date, run_id: str, layout: LakeLayout,
          summaries: dict[str, Any], context: dict[str, Any] | None = None) -> Iterator[DataFrame]:
    """Validate a gold table with its suite before it is published: a `fail` expectation stops the job
    (nothing published), `warn` ones are recorded in the job report. What the gate cached for its
    validation is released when the block that writes the table ends."""
    from jobs.quality import raise_if_failed, run_quality_gate

    result = run_quality_gate(spark, table, suite=name, layer="gold", contract=None,
                              run_date=run_date.isoformat(), run_id=run_id, ops_root=layout.ops, build_docs=False,
                              context=context)
    try:
        summaries[name] = result.summary
        raise_if_failed(result)
        yield result.valid
    finally:
        result.release()


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    run_date = parse_run_date(args["run_date"])
    run_id = args.get("run_id") or f"{JOB_NAME}-{run_date:%Y%m%d}-{uuid.uuid4().hex[:8]}"
    lookback_days = max(int(args.get("lookback_days") or LONG_WINDOW_DAYS), LONG_WINDOW_DAYS)
    layout = LakeLayout.from_args(args)
    transactions_path = layout.silver_table("transactions")
    customers_path = layout.silver_table("customers")

    lookback = window_days(run_date, lookback_days)
    quality: dict[str, Any] = {}
    transactions = only_event_days(
        read_silver(spark, transactions_path, TRANSACTIONS_READ_SCHEMA), lookback).cache()
    customers = read_silver(spark, customers_path, CUSTOMERS_READ_SCHEMA)
    try:
        transactions_read = transactions.count()
        days = metrics_days(transactions, run_date,
                            parse_flag(args.get("recompute_late_days", "true")))
        # Late days older than the lookback cannot be rebuilt from what was read.
        days = [d for d in days if d >= lookback[0]]

        features_path = layout.gold_table(FEATURES_TABLE)
        metrics_path = layout.gold_table(METRICS_TABLE)
        # One snapshot per as_of day, so yesterday's snapshot size is comparable (daily_merchant_metrics
        # rewrites a varying number of days per run, so its row-count expectation stays skipped).
        previous_snapshot = previous_table_rows(layout, JOB_NAME, FEATURES_TABLE, run_date)
        with gated(spark, customer_features(transactions, customers, run_date), FEATURES_TABLE,
                   run_date, run_id, layout, quality,
                   {} if previous_snapshot is None else {"previous_row_count": previous_snapshot}) as features:
            features_rows = write_gold_partitions(features, features_path, "as_of_date", [run_date],
                                                  layout.staging(features_path, run_id))
        with gated(spark, daily_merchant_metrics_for_days(transactions, days), METRICS_TABLE,
                   run_date, run_id, layout, quality) as metrics:
            metrics_rows = write_gold_partitions(metrics, metrics_path, "event_date", days,
                                                 layout.staging(metrics_path, run_id), one_file_per_partition=True)
    finally:
        transactions.unpersist()

    report = {
        "job": JOB_NAME,
        "run_id": run_id,
        "run_date": run_date.isoformat(),
        "inputs": {
            "transactions": {
                "path": transactions_path,
                "event_days": [lookback[0].isoformat(), lookback[-1].isoformat()],
                "rows_read": transactions_read,
            },
            "customers": {"path": customers_path},
        },
        "tables": {
            FEATURES_TABLE: _table_report(features_path, "as_of_date", features_rows),
            METRICS_TABLE: {
                **_table_report(metrics_path, "event_date", metrics_rows),
                "late_days": [d.isoformat() for d in days if d != run_date],
            },
        },
        "quality": quality,
        "duration_seconds": round(time.monotonic() - started, 3),
    }
    pipeline = str(args.get("pipeline") or "ingestion")
    storage.write_json(layout.job_report(pipeline, run_date, run_id, JOB_NAME), report)
    return report


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
