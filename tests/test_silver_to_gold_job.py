"""The silver_to_gold job end to end on tiny silver Iceberg tables laid out like the lake."""

from __future__ import annotations

import importlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.lake import LakeLayout
from jobs.runtime import MissingArgumentError, resolve_options
from jobs.silver_to_gold import OPTIONAL_ARGS, REQUIRED_ARGS, SilverTableMissingError, metrics_days, run
from jobs.tables import lake_catalog, lake_table
from pipelines.registry import GLUE_JOBS
from tests.frames import write_table

RUN_DATE = "2024-01-31"

TXN_SCHEMA = (
    "transaction_id string, customer_id string, card_number string, amount string, currency string, "
    "merchant_id string, merchant_category string, event_time string, channel string, ip_address string, "
    "is_fraud boolean, _ingest_date string"
)
CUSTOMER_SCHEMA = (
    "customer_id string, first_name string, email string, segment string, country string, "
    "created_at string, updated_at string"
)


def silver_partitioned(df: DataFrame, event_time: str) -> DataFrame:
    """Lineage and `year`/`month`/`day` zero-padded string partition columns, as silver has them."""
    day = F.to_date(F.col(event_time))
    return df.withColumns({
        "_run_id": F.lit("silver-run"),
        "_source_file": F.lit("bronze/file.jsonl"),
        "_processed_at": F.lit("2024-02-01 02:00:00").cast("timestamp"),
        "year": F.date_format(day, "yyyy"),
        "month": F.date_format(day, "MM"),
        "day": F.date_format(day, "dd"),
    })


def write_silver(spark: SparkSession, lake: Path) -> None:
    txns = spark.createDataFrame([
        ("T000000000001", "C00000001", "411111******1111", "100.00", "USD", "M000001", "grocery",
         "2024-01-31 10:00:00", "online", "tok-ip", False, "2024-01-31"),
        ("T000000000002", "C00000002", "411111******2222", "50.00", "GBP", "M000002", "travel",
         "2024-01-31 11:00:00", "mobile", "tok-ip", True, "2024-01-31"),
        ("T000000000003", "C00000001", "411111******1111", "20.00", "USD", "M000003", "grocery",
         "2024-01-29 09:00:00", "online", "tok-ip", False, "2024-01-31"),  # arrived late
        ("T000000000004", "C00000001", "411111******1111", "30.00", "USD", "M000001", "grocery",
         "2024-01-20 09:00:00", "in_store", "tok-ip", None, "2024-01-20"),
        ("T000000000005", "C00000002", "411111******2222", "70.00", "GBP", "M000004", "fuel",
         "2023-12-01 09:00:00", "atm", "tok-ip", False, "2023-12-01"),  # before the 30-day window
    ], TXN_SCHEMA).withColumns({
        "amount": F.col("amount").cast("decimal(12,2)"),
        "event_time": F.col("event_time").cast("timestamp"),
        "_ingest_date": F.col("_ingest_date").cast("date"),
    })
    customers = spark.createDataFrame([
        ("C00000001", "tok-first", "tok-email", "premium", "US", "2023-06-01 00:00:00", "2024-01-10 00:00:00"),
        ("C00000002", "tok-first", "tok-email", "consumer", "GB", "2024-01-15 00:00:00", "2024-01-15 00:00:00"),
        ("C00000003", "tok-first", "tok-email", "consumer", "DE", "2024-02-02 00:00:00", "2024-02-02 00:00:00"),
    ], CUSTOMER_SCHEMA).withColumns({
        "created_at": F.col("created_at").cast("timestamp"),
        "updated_at": F.col("updated_at").cast("timestamp"),
    })
    partitions = ("year", "month", "day")
    write_table(spark, lake, "silver", "transactions", silver_partitioned(txns, "event_time"), partitions)
    write_table(spark, lake, "silver", "customers", silver_partitioned(customers, "updated_at"), partitions)


@pytest.fixture
def lake(spark: SparkSession, tmp_path: Path) -> Path:
    """A lake of its own per test (one catalog, gold empty), silver written as above."""
    root = tmp_path / "lake"
    write_silver(spark, root)
    return root


def job_args(lake: Path, **extra: str) -> dict[str, Any]:
    argv = ["--run_date", RUN_DATE, "--lake_root", str(lake), "--run_id", "run-1",
            *[f"--{k}={v}" for k, v in extra.items()]]
    return resolve_options(argv, REQUIRED_ARGS, OPTIONAL_ARGS)


def read_gold(spark: SparkSession, lake: Path, table: str, where: str = "true") -> list[dict[str, Any]]:
    return sorted((r.asDict() for r in lake_table(spark, lake, "gold", table).where(where).collect()),
                  key=lambda r: tuple(str(v) for v in r.values()))


def table_id(spark: SparkSession, lake: Path, name: str) -> str:
    return lake_catalog(spark, LakeLayout.from_root(str(lake))).table("gold", name).identifier


def test_job_builds_both_gold_tables_from_the_window_only(spark: SparkSession, lake: Path) -> None:
    gold = lake / "gold"
    report = run(spark, resolve_options(["--run_date", RUN_DATE, "--lake_root", str(lake)],
                                        REQUIRED_ARGS, OPTIONAL_ARGS))

    assert report["run_id"].startswith("silver_to_gold-20240131-")  # generated when not given
    assert report["inputs"]["customers"]["path"] == str(lake / "silver" / "customers")
    assert report["inputs"]["transactions"]["event_days"] == ["2024-01-02", RUN_DATE]
    assert report["inputs"]["transactions"]["rows_read"] == 4  # the December row is pruned
    features, metrics = report["tables"]["customer_features"], report["tables"]["daily_merchant_metrics"]
    assert (features["path"], features["partitions"], features["rows_written"]) == (
        str(gold / "customer_features"), {RUN_DATE: 2}, 2)
    assert (metrics["partitions"], metrics["late_days"], metrics["rows_written"]) == (
        {"2024-01-29": 1, RUN_DATE: 2}, ["2024-01-29"], 3)

    columns = ["customer_id", "as_of_date", "txn_count_7d", "txn_amount_7d", "txn_count_30d",
               "txn_amount_30d", "distinct_merchants_30d", "days_since_last_txn", "tenure_days",
               "segment_premium", "country_index"]
    written = lake_table(spark, lake, "gold", "customer_features")
    assert sorted((r.asDict() for r in written.select(*columns).collect()), key=lambda r: r["customer_id"]) == [
        {"customer_id": "C00000001", "as_of_date": date.fromisoformat(RUN_DATE), "txn_count_7d": 2,
         "txn_amount_7d": Decimal("120.00"), "txn_count_30d": 3, "txn_amount_30d": Decimal("150.00"),
         "distinct_merchants_30d": 2, "days_since_last_txn": 0, "tenure_days": 244,
         "segment_premium": 1, "country_index": 9},
        {"customer_id": "C00000002", "as_of_date": date.fromisoformat(RUN_DATE), "txn_count_7d": 1,
         "txn_amount_7d": Decimal("50.00"), "txn_count_30d": 1, "txn_amount_30d": Decimal("50.00"),
         "distinct_merchants_30d": 1, "days_since_last_txn": 0, "tenure_days": 16,
         "segment_premium": 0, "country_index": 5},
    ]
    assert not {"first_name", "email", "card_number", "ip_address"} & set(written.columns)

    metrics_rows = lake_table(spark, lake, "gold", "daily_merchant_metrics").select(
        "event_date", "merchant_category", "txn_count", "total_amount", "fraud_rate")
    assert sorted(tuple(r) for r in metrics_rows.collect()) == [
        (date(2024, 1, 29), "grocery", 1, Decimal("20.00"), 0.0),
        (date.fromisoformat(RUN_DATE), "grocery", 1, Decimal("100.00"), 0.0),
        (date.fromisoformat(RUN_DATE), "travel", 1, Decimal("50.00"), 1.0),
    ]
    files = spark.sql(f"SELECT file_path, file_format FROM {table_id(spark, lake, 'customer_features')}.files")
    assert {r["file_format"] for r in files.collect()} == {"PARQUET"}
    assert {Path(r["file_path"]).parent.name for r in files.collect()} == {f"as_of_date={RUN_DATE}"}
    assert all(str(gold / "customer_features" / "data") in r["file_path"] for r in files.collect())
    metrics_files = sorted(Path(r["file_path"]).parent.name for r in spark.sql(
        f"SELECT file_path FROM {table_id(spark, lake, 'daily_merchant_metrics')}.files").collect())
    assert metrics_files == ["event_date=2024-01-29", f"event_date={RUN_DATE}"]  # one file each


def test_rerun_replaces_only_its_own_partitions(spark: SparkSession, lake: Path) -> None:
    older = "2024-01-30"
    run(spark, {**job_args(lake), "run_date": older})
    kept = read_gold(spark, lake, "customer_features", f"as_of_date = '{older}'")
    first = run(spark, job_args(lake))
    after_first = read_gold(spark, lake, "customer_features", f"as_of_date = '{RUN_DATE}'")
    second = run(spark, job_args(lake))

    assert first["run_id"] == second["run_id"] == "run-1"
    features = first["tables"]["customer_features"], second["tables"]["customer_features"]
    assert features[0]["partitions"] == features[1]["partitions"]
    assert features[1]["snapshot_before"] == features[0]["snapshot_after"]  # one commit per table per run
    assert len(after_first) == 2
    assert read_gold(spark, lake, "customer_features", f"as_of_date = '{RUN_DATE}'") == after_first  # not appended
    assert kept and read_gold(spark, lake, "customer_features", f"as_of_date = '{older}'") == kept  # untouched


def test_a_requested_partition_that_comes_out_empty_is_cleared(spark: SparkSession, lake: Path) -> None:
    run(spark, job_args(lake))
    metrics = lake_table(spark, lake, "gold", "daily_merchant_metrics")
    stale = metrics.where(f"event_date = '{RUN_DATE}'").limit(1).withColumn("event_date", F.lit(date(2024, 2, 3)))
    write_table(spark, lake, "gold", "daily_merchant_metrics", metrics.unionByName(stale), ("event_date",))
    assert read_gold(spark, lake, "daily_merchant_metrics", "event_date = '2024-02-03'")
    # No transactions on 2024-02-03: its metrics partition must not keep the stale rows.
    report = run(spark, {**job_args(lake), "run_date": "2024-02-03"})
    assert report["tables"]["daily_merchant_metrics"]["partitions"] == {"2024-02-03": 0}
    assert read_gold(spark, lake, "daily_merchant_metrics", "event_date = '2024-02-03'") == []
    assert report["tables"]["customer_features"]["partitions"] == {"2024-02-03": 3}


def test_late_days_are_added_only_when_asked(spark: SparkSession) -> None:
    txns = spark.createDataFrame(
        [("2024-01-29 09:00:00", "2024-01-31"), ("2024-01-31 09:00:00", "2024-01-31"),
         ("2024-01-27 09:00:00", "2024-01-30")],
        "event_time string, _ingest_date string",
    ).select(F.col("event_time").cast("timestamp").alias("event_time"),
             F.col("_ingest_date").cast("date").alias("_ingest_date"))
    run_date = date.fromisoformat(RUN_DATE)
    assert metrics_days(txns, run_date, recompute_late=True) == [date(2024, 1, 29), run_date]
    assert metrics_days(txns, run_date, recompute_late=False) == [run_date]


def test_missing_silver_table_fails_with_its_name_and_path(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(SilverTableMissingError, match=str(tmp_path / "silver" / "transactions")):
        run(spark, job_args(tmp_path))


def test_job_arguments_follow_glue_semantics() -> None:
    args = resolve_options(["--JOB_NAME", "x", "--run_date", RUN_DATE, "--job-bookmark-option", "off"],
                           REQUIRED_ARGS, OPTIONAL_ARGS)
    assert args["run_date"] == RUN_DATE
    assert (args["lookback_days"], args["recompute_late_days"], args["lake_root"]) == ("30", "true", None)
    assert "job-bookmark-option" not in args
    with pytest.raises(MissingArgumentError, match="--run_date"):
        resolve_options(["--lake_root", "lake"], REQUIRED_ARGS, OPTIONAL_ARGS)


def test_bad_run_date_is_rejected_before_reading(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        run(spark, {"run_date": "31/01/2024", "lake_root": str(tmp_path)})


def test_registry_points_at_this_job() -> None:
    module = importlib.import_module(GLUE_JOBS["silver_to_gold"].module)
    assert callable(module.main) and module.run is run


def test_the_features_snapshot_is_checked_against_yesterdays_snapshot_size(
        spark: SparkSession, lake: Path, tmp_path: Path) -> None:
    """customer_features' `row_count_vs_previous_partition` (warn) takes the day before's snapshot size
    from that day's successful ingestion manifest: skipped without one, evaluated with one."""
    import json

    label = "row_count_vs_previous_partition"
    ops = tmp_path / "ops"
    args = job_args(lake, ops_root=str(ops))
    first = run(spark, args)["quality"]["customer_features"]
    assert label in [item["expectation"] for item in first["skipped"]]

    manifest = ops / "manifests" / "ingestion" / "run_date=2024-01-30" / "ingestion-2024-01-30.json"
    manifest.parent.mkdir(parents=True)
    written = {"silver_to_gold": {"tables": {"customer_features": {"rows_written": 40}}}}
    manifest.write_text(json.dumps({"pipeline": "ingestion", "run_date": "2024-01-30", "status": "SUCCEEDED",
                                    "run_id": "ingestion-2024-01-30", "finished_at": "2024-01-30T23:50:00+00:00",
                                    "jobs": written}))
    second = run(spark, args)["quality"]["customer_features"]
    assert label not in [item["expectation"] for item in second["skipped"]]
    assert any("row_count" in str(warning) for warning in second["warnings"]), second  # 2 rows after 40
