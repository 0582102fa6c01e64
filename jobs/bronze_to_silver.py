"""Glue job: promote one dataset's bronze ingest date to silver.

bronze files → conform (type, standardise, reasons) → deduplicate (in the batch, then against
silver) → lineage → publish the affected silver partitions atomically; rows that cannot be
promoted go to quarantine with their reasons. The counts reconcile or the job fails:
bronze_rows == silver_rows + quarantined_rows + duplicate_rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.bronze import bronze_files, read_bronze
from jobs.contracts import Contract, load_contract
from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.publish import publish_partitions, replace_quarantine, table_exists
from jobs.runtime import glue_entry_point
from jobs.silver.conform import EXTRA_COLUMNS, REASONS, conform, kept_extra_columns, with_kept_columns
from jobs.silver.dedupe import (
    PARTITION_COLUMNS,
    latest_per_key,
    merge_partition_content,
    split_superseded,
    with_partition_columns,
)
from jobs.storage import write_json

JOB_NAME = "bronze_to_silver"
REQUIRED_ARGS = ["dataset", "run_date"]
LINEAGE_COLUMNS = ("_run_id", "_source_file", "_ingest_date", "_processed_at")


class ReconciliationError(RuntimeError):
    pass


class SchemaDriftError(RuntimeError):
    pass


@dataclass
class BatchSplit:
    """The three destinations of a bronze batch (plus the rows that were never promotable)."""

    winners: DataFrame
    rejected: DataFrame
    in_batch_duplicates: int
    superseded: int


def add_lineage(df: DataFrame, ctx: JobContext, processed_at: datetime) -> DataFrame:
    return df.select(
        "*",
        F.lit(ctx.run_id).alias("_run_id"),
        F.lit(ctx.run_date).alias("_ingest_date"),
        F.lit(processed_at).cast("timestamp").alias("_processed_at"),
    )


def silver_columns(contract: Contract, kept: list[str]) -> list[str]:
    return [*contract.column_names, *kept, *LINEAGE_COLUMNS, *PARTITION_COLUMNS]


def quarantine_rows(rejected: DataFrame, contract: Contract, ctx: JobContext,
                    processed_at: datetime) -> DataFrame:
    """The quarantine table's shape: enough to find, understand and replay each record."""
    key_text = F.concat_ws("|", *[F.coalesce(F.col(k).cast("string"), F.col("_fields")[k]) for k in contract.key])
    return rejected.select(
        F.lit(contract.name).alias("dataset"),
        F.lit(ctx.run_date).alias("ingest_date"),
        F.col("_source_file").alias("source_file"),
        key_text.alias("record_key"),
        F.col(REASONS)[0].alias("reason"),
        F.col(REASONS).alias("reasons"),
        F.col("_raw_record").alias("raw_record"),
        F.lit(ctx.run_id).alias("run_id"),
        F.lit(processed_at).cast("timestamp").alias("quarantined_at"),
    )


def refuse_new_columns(conformed: DataFrame, contract: Contract) -> None:
    """Drift policy `fail`: stop before anything is published, naming files and columns."""
    found = (conformed.where(F.size(EXTRA_COLUMNS) > 0)
             .select("_source_file", F.explode(EXTRA_COLUMNS).alias("column"))
             .distinct().limit(20).collect())
    if found:
        listing = ", ".join(f"{row['column']} in {row['_source_file']}" for row in found)
        raise SchemaDriftError(
            f"dataset {contract.name}: columns not in the contract ({contract.source}) and the drift "
            f"policy is 'fail': {listing}. Add them to the contract or set drift.new_columns.")


def existing_versions(spark: SparkSession, table: str, contract: Contract) -> DataFrame | None:
    if not table_exists(table):
        return None
    existing = spark.read.parquet(table)
    return existing.select(
        *contract.key,
        F.col(contract.event_time).alias("_existing_time"),
        *[F.col(p).alias(f"_existing_{p}") for p in PARTITION_COLUMNS],
    )


def split_batch(spark: SparkSession, conformed: DataFrame, contract: Contract, silver_table: str) -> BatchSplit:
    valid = with_partition_columns(conformed.where(F.size(REASONS) == 0), contract.event_time)
    rejected = conformed.where(F.size(REASONS) > 0)
    latest, in_batch = latest_per_key(valid, contract.key, contract.event_time)
    versions = existing_versions(spark, silver_table, contract)
    superseded_count = 0
    if versions is not None:
        latest, superseded = split_superseded(latest, versions.drop(*[f"_existing_{p}" for p in PARTITION_COLUMNS]),
                                              contract.key, contract.event_time)
        superseded_count = superseded.count()
    return BatchSplit(latest, rejected, in_batch.count(), superseded_count)


def affected_partitions(spark: SparkSession, winners: DataFrame, silver_table: str,
                        contract: Contract) -> list[tuple[str, str, str]]:
    """Partitions the winners land in, plus those holding older versions of the winners' keys."""
    parts = {tuple(r) for r in winners.select(*PARTITION_COLUMNS).distinct().collect()}
    versions = existing_versions(spark, silver_table, contract)
    if versions is not None:
        older = versions.join(winners.select(*contract.key), on=list(contract.key), how="inner")
        parts |= {tuple(r) for r in older.select(*[f"_existing_{p}" for p in PARTITION_COLUMNS]).distinct().collect()}
    return sorted(parts)  # type: ignore[arg-type]


def partition_filter(parts: list[tuple[str, str, str]]):
    condition = F.lit(False)
    for year, month, day in parts:
        condition = condition | ((F.col("year") == year) & (F.col("month") == month) & (F.col("day") == day))
    return condition


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    ctx = JobContext.from_args(args)
    contract = load_contract(str(args["dataset"]))
    layout = ctx.layout
    silver_table = layout.silver_table(contract.name)
    processed_at = datetime.now(UTC).replace(tzinfo=None)

    files = bronze_files(layout.bronze_ingest(contract.name, ctx.run_date), contract)
    conformed = conform(read_bronze(spark, files, contract), contract).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        bronze_rows = conformed.count()
        if contract.new_columns == "fail":
            refuse_new_columns(conformed, contract)
        kept = kept_extra_columns(conformed, contract)
        conformed_kept = with_kept_columns(conformed, kept)

        split = split_batch(spark, conformed_kept, contract, silver_table)
        winners = add_lineage(split.winners, ctx, processed_at).select(*silver_columns(contract, kept))
        winners = winners.persist(StorageLevel.MEMORY_AND_DISK)
        silver_rows = winners.count()

        quarantine = quarantine_rows(split.rejected, contract, ctx, processed_at)
        quarantined_by_reason = {r["reason"]: r["count"] for r in quarantine.groupBy("reason").count().collect()}
        quarantined_rows = sum(quarantined_by_reason.values())
        duplicate_rows = split.in_batch_duplicates + split.superseded
        if bronze_rows != silver_rows + quarantined_rows + duplicate_rows:
            raise ReconciliationError(
                f"dataset {contract.name} ingest {ctx.run_date}: bronze {bronze_rows} != silver {silver_rows} "
                f"+ quarantined {quarantined_rows} + duplicates {duplicate_rows}; nothing was published")

        parts = affected_partitions(spark, winners, silver_table, contract)
        content = winners
        if table_exists(silver_table) and parts:
            existing_rows = spark.read.parquet(silver_table).where(partition_filter(parts))
            content = merge_partition_content(existing_rows, winners, contract.key)
        published = publish_partitions(content, silver_table, parts, layout.staging(silver_table, ctx.run_id))
        quarantine_path = replace_quarantine(quarantine, layout.quarantine_ingest(contract.name, ctx.run_date),
                                             layout.staging(layout.quarantine_table(contract.name), ctx.run_id))
        winners.unpersist()
    finally:
        conformed.unpersist()

    report = {
        "job": JOB_NAME,
        "dataset": contract.name,
        "run_id": ctx.run_id,
        "run_date": ctx.run_date.isoformat(),
        "bronze_files": files,
        "bronze_rows": bronze_rows,
        "silver_rows": silver_rows,
        "quarantined_rows": quarantined_rows,
        "duplicate_rows": duplicate_rows,
        "duplicates_in_batch": split.in_batch_duplicates,
        "duplicates_superseded_by_silver": split.superseded,
        "quarantined_by_reason": dict(sorted(quarantined_by_reason.items())),
        "kept_new_columns": kept,
        "silver_table": silver_table,
        "partitions_published": [f"year={y}/month={m}/day={d}" for y, m, d in published],
        "quarantine_path": quarantine_path if quarantined_rows else None,
        "reconciled": True,
    }
    write_json(layout.job_report(ctx.pipeline, ctx.run_date, ctx.run_id, f"{JOB_NAME}-{contract.name}"), report)
    return report


def main() -> None:
    glue_entry_point(run, REQUIRED_ARGS, COMMON_OPTIONAL_ARGS)


if __name__ == "__main__":
    main()
