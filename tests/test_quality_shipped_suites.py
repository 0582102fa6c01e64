"""The shipped suites on silver/gold-shaped frames: clean data passes untouched, flawed rows are
routed or failed with the expectation that caught them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import load_contract
from jobs.quality import run_quality_gate
from jobs.quality.routing import REASON_COLUMN
from tests.frames import rows

NOW = datetime(2024, 3, 2, 6, 0, tzinfo=UTC)
RUN_DATE = "2024-03-01"
TS = datetime(2024, 3, 1, 10, 30)
LINEAGE = {"_run_id": "run-1", "_source_file": "bronze/x", "_ingest_date": date(2024, 3, 1),
           "_processed_at": datetime(2024, 3, 2, 5), "year": "2024", "month": "03", "day": "01"}
LINEAGE_SCHEMA = [T.StructField("_run_id", T.StringType()), T.StructField("_source_file", T.StringType()),
                  T.StructField("_ingest_date", T.DateType()), T.StructField("_processed_at", T.TimestampType()),
                  T.StructField("year", T.StringType()), T.StructField("month", T.StringType()),
                  T.StructField("day", T.StringType())]


def silver_frame(spark: SparkSession, dataset: str, records: list[dict[str, Any]]) -> DataFrame:
    schema = T.StructType(load_contract(dataset).typed_schema.fields + LINEAGE_SCHEMA)
    return spark.createDataFrame([tuple({**LINEAGE, **r}.get(f.name) for f in schema.fields) for r in records],
                                 schema)


def txn(tid: str, **changes: Any) -> dict[str, Any]:
    return {"transaction_id": tid, "customer_id": "tok_c1", "card_number": "************1111",
            "amount": Decimal("12.50"), "currency": "USD", "merchant_id": "M000001", "merchant_category": "fuel",
            "event_time": TS, "channel": "online", "ip_address": "tok_ip", "is_fraud": False, **changes}


def customer(cid: str, **changes: Any) -> dict[str, Any]:
    return {"customer_id": cid, "first_name": "tok_f", "last_name": "tok_l", "email": "tok_e", "phone": "tok_p",
            "ssn": None, "date_of_birth": date(1985, 1, 1), "street": "tok_s", "city": "Dublin", "state": None,
            "postal_code": "D02", "country": "IE", "segment": "premium", "created_at": datetime(2023, 5, 1),
            "updated_at": TS, **changes}


def ticket(kid: str, **changes: Any) -> dict[str, Any]:
    return {"ticket_id": kid, "customer_id": "tok_c1", "created_at": TS, "channel": "chat",
            "subject": "Card blocked", "body": "Hello, my card <CREDIT_CARD> was blocked.", **changes}


@dataclass
class Case:
    dataset: str
    clean: list[dict[str, Any]]
    dirty: list[dict[str, Any]]
    expected_reasons: dict[str, str]  # key -> first quarantine reason


KEY = {"transactions": "transaction_id", "customers": "customer_id", "support_tickets": "ticket_id"}
CASES = [
    Case("transactions",
         [txn("T0000000000A1"), txn("T0000000000A2", amount=Decimal("25000.00"), channel="atm"),
          txn("T0000000000A3", currency="GBP", merchant_category="gambling", is_fraud=None, ip_address=None)],
         [txn("T0000000000B1", amount=Decimal("0.00")), txn("T0000000000B2", currency="usd"),
          txn("t0000000000b3"), txn("T0000000000B4", event_time=datetime(2031, 1, 1)),
          txn("T0000000000B5", merchant_category="casino", channel="fax")],
         {"T0000000000B1": "expect_column_values_to_be_between(amount)",
          "T0000000000B2": "expect_column_values_to_be_in_set(currency)",
          "t0000000000b3": "expect_column_values_to_match_regex(transaction_id)",
          "T0000000000B4": "expect_column_values_to_be_between(event_time)",
          "T0000000000B5": "expect_column_values_to_be_in_set(merchant_category)"}),
    Case("customers",
         [customer("C00000001"), customer("C00000002", segment="small_business", country="US", state="NY"),
          customer("C00000003", date_of_birth=None, updated_at=datetime(2023, 5, 1))],
         [customer("C00000008", segment="vip"), customer("C00000009", country="XX"),
          customer("C00000010", email=None), customer("tok_c1")],
         {"C00000008": "expect_column_values_to_be_in_set(segment)",
          "C00000009": "expect_column_values_to_be_in_set(country)",
          "C00000010": "expect_column_values_to_not_be_null(email)",
          "tok_c1": "expect_column_values_to_match_regex(customer_id)"}),  # the contract's pattern
    Case("support_tickets",
         [ticket("K0000000001"), ticket("K0000000002", channel="web", subject=None)],
         [ticket("K000000000X"), ticket("K0000000009", body=None)],
         {"K000000000X": "expect_column_values_to_match_regex(ticket_id)",
          "K0000000009": "expect_column_values_to_not_be_null(body)"}),
]


def gate(spark: SparkSession, df: DataFrame, tmp_path: Path, layer: str, suite: str, **context: Any):
    contract = load_contract(suite) if layer == "silver" else None
    return run_quality_gate(spark, df, suite=suite, layer=layer, contract=contract, run_date=RUN_DATE,
                            run_id="run-1", ops_root=str(tmp_path / "ops"), context=context, build_docs=False,
                            now=NOW)


@pytest.mark.parametrize("case", CASES, ids=[c.dataset for c in CASES])
def test_silver_suite_passes_clean_rows_and_routes_flawed_ones(spark: SparkSession, tmp_path: Path,
                                                               case: Case) -> None:
    df = silver_frame(spark, case.dataset, case.clean + case.dirty)
    known = spark.createDataFrame([("tok_c1",), ("tok_c2",)], "customer_id string")
    context: dict[str, Any] = {"previous_row_count": len(case.clean) + len(case.dirty)}
    if case.dataset != "customers":
        context["known_customer_ids"] = known
    result = gate(spark, df, tmp_path, "silver", case.dataset, **context)
    key = KEY[case.dataset]
    assert result.passed, [f.describe() for f in result.failed]
    assert result.warnings == [] and result.summary["skipped"] == []
    assert rows(result.valid, [key]) == sorted(({key: r[key]} for r in case.clean), key=repr)
    assert {r[key]: r[REASON_COLUMN] for r in result.quarantined.collect()} == {
        k: f"expectation:{v}" for k, v in case.expected_reasons.items()}
    assert result.summary["quarantined_rows"] == len(case.dirty)


def test_customer_warnings_keep_the_customer(spark: SparkSession, tmp_path: Path) -> None:
    records = [customer("C00000001", date_of_birth=date(2015, 1, 1)),
               customer("C00000002", created_at=datetime(2024, 3, 1, 11), updated_at=TS)]
    result = gate(spark, silver_frame(spark, "customers", records), tmp_path, "silver", "customers")
    assert result.passed and result.summary["quarantined_rows"] == 0
    assert sorted(w.expectation for w in result.warnings) == [
        "expect_column_pair_values_a_to_be_greater_than_b(updated_at,created_at)",
        "expect_column_values_to_be_between(date_of_birth)"]
    assert result.valid.count() == 2


def test_referential_warning_names_unknown_customers(spark: SparkSession, tmp_path: Path) -> None:
    df = silver_frame(spark, "transactions", [txn("T0000000000A1"), txn("T0000000000A2", customer_id="tok_zz"),
                                              txn("T0000000000A3", customer_id="tok_zz")])
    known = spark.createDataFrame([("tok_c1",)], "customer_id string")
    result = gate(spark, df, tmp_path, "silver", "transactions", known_customer_ids=known)
    [warning] = result.warnings
    assert warning.expectation == "customer_id_references_known_customer"
    assert warning.sample == [{"customer_id": "tok_zz", "transactions": 2}]
    assert result.valid.count() == 3


FEATURE_SCHEMA = ("customer_id string, as_of_date date, txn_count_7d bigint, txn_amount_7d decimal(18,2), "
                  "txn_count_30d bigint, txn_amount_30d decimal(18,2), avg_amount_30d decimal(12,2), "
                  "distinct_merchants_30d int, days_since_last_txn int, tenure_days int, segment string, "
                  "country string, segment_consumer int, segment_premium int, segment_small_business int, "
                  "segment_enterprise int, country_index int, customer_embedding array<double>, "
                  "feature_set_version string")


def feature_row(cid: str, count_7d: int = 1, count_30d: int = 3) -> tuple:
    return (cid, date(2024, 3, 1), count_7d, Decimal("10.00"), count_30d, Decimal("30.00"), Decimal("10.00"),
            2, 1, 300, "premium", "IE", 0, 1, 0, 0, 6, [0.1, -0.2, 0.0, 0.3], "fs-test")


def test_gold_customer_features_sanity(spark: SparkSession, tmp_path: Path) -> None:
    inactive = ("tok_c2", date(2024, 3, 1), 0, Decimal("0.00"), 0, Decimal("0.00"), None, 0, None, 10,
                "consumer", "US", 1, 0, 0, 0, 9, None, "fs-test")  # no spend: no embedding
    clean = spark.createDataFrame([feature_row("tok_c1"), inactive], FEATURE_SCHEMA)
    assert gate(spark, clean, tmp_path / "a", "gold", "customer_features").passed
    broken = spark.createDataFrame([feature_row("tok_c1"), feature_row("tok_c2", count_7d=5)], FEATURE_SCHEMA)
    result = gate(spark, broken, tmp_path / "b", "gold", "customer_features")
    assert [f.expectation for f in result.failed] == [
        "expect_column_pair_values_a_to_be_greater_than_b(txn_count_30d,txn_count_7d)"]
    assert result.failed[0].unexpected_count == 1


def test_gold_merchant_metrics_rates_and_columns(spark: SparkSession, tmp_path: Path) -> None:
    schema = ("event_date date, merchant_category string, txn_count bigint, total_amount decimal(18,2), "
              "avg_amount decimal(12,2), fraud_count bigint, fraud_rate double, distinct_customers bigint")
    good = (date(2024, 3, 1), "fuel", 4, Decimal("40.00"), Decimal("10.00"), 1, 0.25, 3)
    bad = (date(2024, 3, 1), "travel", 4, Decimal("40.00"), Decimal("10.00"), 6, 1.5, 3)
    assert gate(spark, spark.createDataFrame([good], schema), tmp_path / "a", "gold", "daily_merchant_metrics").passed
    with_identifier = spark.createDataFrame([good, bad], schema).withColumn("email", F.lit("x"))
    result = gate(spark, with_identifier,
                  tmp_path / "b", "gold", "daily_merchant_metrics")
    assert sorted(f.expectation for f in result.failed) == [
        "expect_column_pair_values_a_to_be_greater_than_b(txn_count,fraud_count)",
        "expect_column_values_to_be_between(fraud_rate)",
        "expect_table_columns_to_match_set"]
