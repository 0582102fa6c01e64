"""Point-in-time features and the training_set Glue job, on real Spark with a tiny lake.

The rule under test everywhere: a transaction's features use only what was known just before it
(earlier transactions, the previous day's gold snapshot), never the transaction itself or later.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs import training_set
from jobs.lake import LakeLayout
from jobs.ml.feature_spec import FEATURE_COLUMNS
from jobs.ml.features import OUTPUT_COLUMNS, transaction_features
from jobs.ml.inputs import CUSTOMERS_SCHEMA, TRANSACTIONS_SCHEMA
from jobs.tables import lake_table
from tests.frames import assert_rows, rows, write_table

D1, D2, D3 = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3)
SNAPSHOT_SCHEMA = T.StructType([
    T.StructField("customer_id", T.StringType()),
    T.StructField("txn_count_7d", T.LongType()),
    T.StructField("txn_count_30d", T.LongType()),
    T.StructField("avg_amount_30d", T.DecimalType(12, 2)),
    T.StructField("distinct_merchants_30d", T.LongType()),
    T.StructField("days_since_last_txn", T.IntegerType()),
    *[T.StructField(f"segment_{s}", T.IntegerType()) for s in ("consumer", "premium", "small_business", "enterprise")],
    T.StructField("country_index", T.IntegerType()),
    T.StructField("as_of_date", T.StringType()),
])


def txn(transaction_id: str, customer: str, when: str, amount: str = "10.00", fraud: bool | None = False,
        channel: str = "online", category: str = "grocery") -> tuple[Any, ...]:
    moment = datetime.fromisoformat(when)
    return (transaction_id, customer, Decimal(amount), category, channel, moment, fraud, moment,
            f"{moment:%Y}", f"{moment:%m}", f"{moment:%d}")


def snapshot(customer: str, as_of: date, avg: str, count_30d: int = 3) -> tuple[Any, ...]:
    return (customer, 1, count_30d, Decimal(avg), 2, 1, 1, 0, 0, 0, 9, as_of.isoformat())


def transactions_df(spark: SparkSession, items: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(items, TRANSACTIONS_SCHEMA)


def customers_df(spark: SparkSession, items: list[tuple[str, str]]) -> DataFrame:
    return spark.createDataFrame([(c, datetime.fromisoformat(t)) for c, t in items], CUSTOMERS_SCHEMA)


def snapshots_df(spark: SparkSession, items: list[tuple[Any, ...]]) -> DataFrame:
    return spark.createDataFrame(items, SNAPSHOT_SCHEMA)


def write_lake(spark: SparkSession, root: Path, transactions: list[tuple[Any, ...]], customers: list[tuple[str, str]],
               snapshots: list[tuple[Any, ...]]) -> LakeLayout:
    """Silver transactions and customers and gold customer_features, laid out as the pipelines do."""
    layout = LakeLayout.from_root(str(root))
    partitions = ("year", "month", "day")
    write_table(spark, layout, "silver", "transactions", transactions_df(spark, transactions), partitions)
    customers_frame = customers_df(spark, customers).selectExpr("*", "'2024' as year", "'03' as month", "'01' as day")
    write_table(spark, layout, "silver", "customers", customers_frame, partitions)
    write_table(spark, layout, "gold", "customer_features", snapshots_df(spark, snapshots), ("as_of_date",))
    return layout


def features_of(frame: DataFrame, transaction_id: str) -> dict[str, Any]:
    [row] = [r for r in rows(frame) if r["transaction_id"] == transaction_id]
    return row


def test_velocity_counts_only_earlier_transactions_of_the_same_customer(spark: SparkSession) -> None:
    transactions = transactions_df(spark, [
        txn("T1", "C1", "2024-03-02T10:00:00"),
        txn("T2", "C1", "2024-03-02T10:05:00"),
        txn("T3", "C1", "2024-03-02T10:05:00"),  # same second as T2: neither counts the other
        txn("T4", "C1", "2024-03-02T10:20:00"),
        txn("T5", "C2", "2024-03-02T10:06:00"),  # another customer never counts
        txn("T0", "C1", "2024-03-01T11:00:00"),  # the day before: feeds the 24 h window only
    ])
    features = transaction_features(transactions, customers_df(spark, []), snapshots_df(spark, []), first_day=D2)

    assert_rows(features, [
        {"transaction_id": "T1", "txn_count_prev_10m": 0.0, "txn_count_prev_1h": 0.0, "txn_count_prev_24h": 1.0},
        {"transaction_id": "T2", "txn_count_prev_10m": 1.0, "txn_count_prev_1h": 1.0, "txn_count_prev_24h": 2.0},
        {"transaction_id": "T3", "txn_count_prev_10m": 1.0, "txn_count_prev_1h": 1.0, "txn_count_prev_24h": 2.0},
        {"transaction_id": "T4", "txn_count_prev_10m": 0.0, "txn_count_prev_1h": 3.0, "txn_count_prev_24h": 4.0},
        {"transaction_id": "T5", "txn_count_prev_10m": 0.0, "txn_count_prev_1h": 0.0, "txn_count_prev_24h": 0.0},
    ])


def test_history_comes_from_the_previous_days_snapshot_never_the_same_day(spark: SparkSession) -> None:
    transactions = transactions_df(spark, [txn("T1", "C1", "2024-03-02T10:00:00", amount="300.00"),
                                           txn("T2", "C9", "2024-03-02T11:00:00")])
    snapshots = snapshots_df(spark, [snapshot("C1", D1, "100.00"),
                                     snapshot("C1", D2, "999.00")])  # includes the day's own transactions
    features = transaction_features(transactions, customers_df(spark, []), snapshots)

    known = features_of(features, "T1")
    assert (known["has_history"], known["avg_amount_30d"], known["amount_to_avg_30d"]) == (1.0, 100.0, 3.0)
    unknown = features_of(features, "T2")
    assert (unknown["has_history"], unknown["avg_amount_30d"], unknown["amount_to_avg_30d"]) == (0.0, None, None)


def test_tenure_is_measured_at_the_transaction_time(spark: SparkSession) -> None:
    transactions = transactions_df(spark, [txn("T1", "C1", "2024-03-03T12:00:00"),
                                           txn("T2", "C2", "2024-03-03T12:00:00"),
                                           txn("T3", "C3", "2024-03-03T12:00:00")])
    customers = customers_df(spark, [("C1", "2024-03-01T00:00:00"), ("C1", "2024-03-02T00:00:00"),  # re-sent later
                                     ("C2", "2024-03-04T00:00:00")])  # signed up after the transaction
    features = transaction_features(transactions, customers, snapshots_df(spark, []))

    assert features_of(features, "T1")["tenure_days"] == 2.5  # from the first recorded created_at
    assert features_of(features, "T2")["tenure_days"] == 0.0
    assert features_of(features, "T3")["tenure_days"] is None  # unknown customer: missing, not zero


def test_transaction_columns_and_the_label(spark: SparkSession) -> None:
    transactions = transactions_df(spark, [
        txn("T1", "C1", "2024-03-02T03:15:00", amount="1000.00", fraud=True, channel=" Mobile ",
            category="Gambling"),
        txn("T2", "C1", "2024-03-02T15:00:00", fraud=None),
    ])
    features = transaction_features(transactions, customers_df(spark, []), snapshots_df(spark, []))

    assert features.columns == [*OUTPUT_COLUMNS, "label"]
    first = features_of(features, "T1")
    assert (first["amount"], first["hour_of_day"], first["is_night"], first["label"]) == (1000.0, 3.0, 1.0, 1)
    assert (first["channel_mobile"], first["channel_online"], first["category_gambling"]) == (1.0, 0.0, 1.0)
    assert features_of(features, "T2")["label"] is None  # no label is not "not fraud"
    assert set(FEATURE_COLUMNS) <= set(features.columns)


def labelled_days(days: list[date], per_day: int = 4) -> list[tuple[Any, ...]]:
    items = []
    for day in days:
        for i in range(per_day):
            items.append(txn(f"T{day:%d}{i:010d}", f"C{i % 2}", f"{day.isoformat()}T1{i}:00:00", fraud=i == 0))
    return items


def test_the_job_writes_both_splits_atomically_and_reports_them(spark: SparkSession, tmp_path: Path) -> None:
    days = [date(2024, 3, d) for d in range(1, 5)]
    unlabelled = txn("TX", "C1", "2024-03-04T20:00:00", fraud=None)
    layout = write_lake(spark, tmp_path, [*labelled_days(days), unlabelled], [("C0", "2024-02-01T00:00:00")],
                        [snapshot("C0", d, "10.00") for d in days])
    report = training_set.run(spark, {"run_date": "2024-03-04", "run_id": "training-2024-03-04",
                                      "pipeline": "training", "lake_root": str(tmp_path),
                                      "train_days": "2", "holdout_days": "1"})

    assert report["windows"] == {"train": ["2024-03-02", "2024-03-03"], "holdout": ["2024-03-04", "2024-03-04"]}
    assert report["splits"] == {"train": {"rows": 8, "positives": 2}, "holdout": {"rows": 4, "positives": 1}}
    assert report["unlabelled_rows_left_out"] == 1
    assert report["feature_snapshot_days_missing"] == []
    table = lake_table(spark, layout, "gold", "training_set").where("as_of_date = '2024-03-04'")
    assert {r["split"]: r["count"] for r in table.groupBy("split").count().collect()} == {"train": 8, "holdout": 4}
    holdout = spark.read.parquet(report["sagemaker_channels"]["holdout"])  # SageMaker's channel: plain files
    assert {r["event_date"] for r in holdout.collect()} == {date(2024, 3, 4)}
    assert holdout.count() == 4 and "split" not in holdout.columns
    assert set(report["input_snapshots"]) == {"silver.transactions", "silver.customers", "gold.customer_features"}
    saved = json.loads(Path(layout.job_report("training", date(2024, 3, 4), "training-2024-03-04",
                                              "training_set")).read_text())
    assert saved["tables"]["training_set"]["rows_written"] == 12


def test_a_window_without_fraud_fails_the_job_and_publishes_nothing(spark: SparkSession, tmp_path: Path) -> None:
    days = [date(2024, 3, d) for d in range(1, 5)]
    no_fraud = [(*t[:6], False, *t[7:]) for t in labelled_days(days)]
    layout = write_lake(spark, tmp_path, no_fraud, [], [snapshot("C0", D1, "10.00")])

    with pytest.raises(training_set.TrainingSetError, match=r"train window 2024-03-02\.\.2024-03-03 has 8 labelled"):
        training_set.run(spark, {"run_date": "2024-03-04", "lake_root": str(tmp_path), "train_days": "2",
                                 "holdout_days": "1"})
    assert not Path(layout.gold_table("training_set")).exists()
    assert not Path(layout.gold, "sagemaker").exists()


def test_a_training_set_is_rebuilt_from_the_snapshots_its_report_names(spark: SparkSession, tmp_path: Path) -> None:
    """The registry keeps `input_snapshots`; given back, they rebuild the same set after silver moved on."""
    days = [date(2024, 3, d) for d in range(1, 5)]
    layout = write_lake(spark, tmp_path, labelled_days(days), [("C0", "2024-02-01T00:00:00")],
                        [snapshot("C0", d, "10.00") for d in days])
    args = {"run_date": "2024-03-04", "lake_root": str(tmp_path), "train_days": "2", "holdout_days": "1"}
    first = training_set.run(spark, {**args, "run_id": "first"})
    columns = [c for c in OUTPUT_COLUMNS if c != "event_time"]
    built = rows(lake_table(spark, layout, "gold", "training_set"), columns)

    later = transactions_df(spark, [txn("TLATE", "C0", "2024-03-04T23:00:00", fraud=True)])
    write_table(spark, layout, "silver", "transactions",
                lake_table(spark, layout, "silver", "transactions").unionByName(later), ("year", "month", "day"))
    moved = training_set.run(spark, {**args, "run_id": "moved"})
    assert moved["splits"]["holdout"]["rows"] == first["splits"]["holdout"]["rows"] + 1  # the new row is read

    pinned = json.dumps(first["input_snapshots"])
    again = training_set.run(spark, {**args, "run_id": "again", "input_snapshots": pinned})
    assert again["input_snapshots"] == first["input_snapshots"]
    assert again["splits"] == first["splits"]
    assert rows(lake_table(spark, layout, "gold", "training_set"), columns) == built
