"""Glue job: materialise the run date's gold `customer_features` into the online store.

Reads the `as_of_date=<run_date>` partition of gold `customer_features` at its current snapshot and
writes one item per customer (key `customer_id`: the features, `as_of_date`, `feature_set_version`) to
the online store (`jobs.online`): DynamoDB on AWS (`--online_table`), the SQLite file under
`<ops>/online/` locally. Every write is conditional on `as_of_date`, so materialising an older date (a
backfill) leaves customers whose online value is newer untouched; the report counts them. Items of
customers no longer in the feature set are not rewritten and expire (TTL).

Arguments: `--run_date` (required), `--run_id`, `--pipeline`, lake roots, `--online_table`,
`--online_region`, `--online_endpoint_url`.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.job_shell import glue_main, run_job
from jobs.online.records import FeatureRecord, WriteSummary
from jobs.online.stores import open_store
from jobs.tables import current_snapshot, lake_catalog, read_table

JOB_NAME = "materialize_features"
TABLE = "customer_features"
REQUIRED_ARGS = ["run_date"]
OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "online_table": None, "online_region": None, "online_endpoint_url": None}
WRITE_CHUNK = 1_000


class GoldPartitionMissingError(RuntimeError):
    """The gold partition to materialise does not exist (the message names table and date)."""


def feature_records(rows: DataFrame) -> Iterator[FeatureRecord]:
    """The partition's rows as online records, streamed to the driver a partition at a time."""
    for row in rows.toLocalIterator():
        yield FeatureRecord.from_row(row.asDict(recursive=True))


def chunks(records: Iterator[FeatureRecord], size: int) -> Iterator[list[FeatureRecord]]:
    while chunk := list(islice(records, size)):
        yield chunk


def materialize(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """The date's gold features written to the online store; the report's own fields (its wall time
    is the shell's `work.seconds`)."""
    table = lake_catalog(spark, ctx.layout, args).table("gold", TABLE)
    snapshot = current_snapshot(spark, table)
    if snapshot is None:
        raise GoldPartitionMissingError(f"gold {TABLE} ({table.location}) does not exist: run silver_to_gold first")
    rows = read_table(spark, table, snapshot).where(F.col("as_of_date") == F.lit(ctx.run_date))
    store = open_store(args, ctx.layout)
    summary = WriteSummary()
    versions: set[str] = set()
    for chunk in chunks(feature_records(rows), WRITE_CHUNK):
        versions.update(record.feature_set_version for record in chunk)
        summary.add(store.write(chunk))
    total = summary.written + summary.skipped_older
    if total == 0:
        raise GoldPartitionMissingError(f"gold {TABLE} has no rows for as_of_date {ctx.run_date} at snapshot "
                                        f"{snapshot}: run silver_to_gold for {ctx.run_date} first")
    return {
        "inputs": {TABLE: {"path": table.location, "snapshot": snapshot, "as_of_date": ctx.run_date.isoformat(),
                           "rows_read": total}},
        "online_store": {"store": store.description, **summary.as_dict(), "expired_purged": store.purge_expired(),
                         "feature_set_versions": sorted(versions)},
    }


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    return run_job(JOB_NAME, args, lambda ctx: materialize(spark, ctx, args))


main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)

if __name__ == "__main__":
    main()
