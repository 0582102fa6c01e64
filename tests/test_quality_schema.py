"""Schema checks against the contract, before any row check, per the contract's drift policy."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.contracts import Contract, load_contract
from jobs.quality import QualityGateFailed, raise_if_failed, run_quality_gate
from jobs.quality.schema_check import check_schema
from jobs.quality.suites import FAIL, WARN

TRANSACTIONS = load_contract("transactions")
CUSTOMERS = load_contract("customers")


def _schema(contract: Contract, drop: tuple[str, ...] = (), change: dict[str, T.DataType] | None = None,
            add: dict[str, T.DataType] | None = None) -> T.StructType:
    fields = [f for f in contract.typed_schema.fields if f.name not in drop]
    fields = [T.StructField(f.name, (change or {}).get(f.name, f.dataType)) for f in fields]
    return T.StructType(fields + [T.StructField(n, t) for n, t in (add or {}).items()])


def _issues(schema: T.StructType, contract: Contract) -> list[tuple[str, str, str]]:
    return [(i.check, i.column, i.severity) for i in check_schema(schema, contract)]


def test_contract_schema_with_lineage_and_partitions_is_clean() -> None:
    lineage = {"_run_id": T.StringType(), "_source_file": T.StringType(), "_ingest_date": T.DateType(),
               "_processed_at": T.TimestampType(), "year": T.StringType(), "month": T.StringType(),
               "day": T.StringType()}
    assert _issues(_schema(TRANSACTIONS, add=lineage), TRANSACTIONS) == []


def test_missing_required_column_fails_and_missing_optional_warns() -> None:
    issues = check_schema(_schema(TRANSACTIONS, drop=("amount", "ip_address")), TRANSACTIONS)
    assert [(i.check, i.column, i.severity) for i in issues] == [
        ("missing_column", "amount", FAIL), ("missing_column", "ip_address", WARN)]
    assert "required column 'amount' is missing" in issues[0].message
    assert issues[0].label == "schema:missing_column(amount)"


def test_type_change_fails_with_both_types_named() -> None:
    issues = check_schema(_schema(TRANSACTIONS, change={"amount": T.DoubleType(), "year": T.IntegerType()},
                                  add={"year": T.IntegerType()}), TRANSACTIONS)
    assert [(i.check, i.column, i.severity) for i in issues] == [
        ("type_change", "amount", FAIL), ("type_change", "year", FAIL)]
    assert "is double, the contract says decimal(12,2)" in issues[0].message


@pytest.mark.parametrize(("policy", "severity", "withheld"), [
    ("keep", WARN, False), ("quarantine", WARN, True), ("fail", FAIL, False)])
def test_unexpected_column_follows_the_drift_policy(policy: str, severity: str, withheld: bool) -> None:
    contract = replace(CUSTOMERS, new_columns=policy)
    [issue] = check_schema(_schema(contract, add={"loyalty_tier": T.StringType()}), contract)
    assert (issue.check, issue.column, issue.severity, issue.withheld) == (
        "unexpected_column", "loyalty_tier", severity, withheld)
    assert f"drift.new_columns={policy}" in issue.message


def test_pii_policies_shape_the_expected_schema() -> None:
    # tokenized/masked columns are strings; generalised dates keep their type; a dropped column may go
    contract = replace(CUSTOMERS, columns=tuple(
        replace(c, pii=replace(c.pii, action="drop")) if c.name == "ssn" else c for c in CUSTOMERS.columns))
    assert _issues(_schema(contract, drop=("ssn",)), contract) == []
    assert _issues(_schema(CUSTOMERS, change={"date_of_birth": T.IntegerType()}), CUSTOMERS) == [
        ("type_change", "date_of_birth", FAIL)]


@pytest.fixture
def suites(tmp_path: Path) -> Path:
    folder = tmp_path / "expectations" / "silver"
    folder.mkdir(parents=True)
    (folder / "transactions.json").write_text(json.dumps({"name": "silver.transactions", "expectations": [
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "channel", "value_set": ["atm"]},
         "meta": {"severity": "quarantine"}}]}))
    return tmp_path / "expectations"


def _rows(spark: SparkSession, schema: T.StructType) -> DataFrame:
    values = {"transaction_id": "T0000000000A1", "customer_id": "C00000001", "card_number": "4111",
              "amount": Decimal("1.00"), "currency": "USD", "merchant_id": "M000001", "merchant_category": "fuel",
              "event_time": datetime(2024, 3, 1, 10), "channel": "atm", "ip_address": "tok_x", "is_fraud": False,
              "promo_code": "SPRING10"}
    return spark.createDataFrame([tuple(values.get(f.name) for f in schema.fields)], schema)


def test_gate_stops_before_row_checks_on_a_fatal_schema_issue(spark: SparkSession, tmp_path: Path,
                                                              suites: Path) -> None:
    df = _rows(spark, _schema(TRANSACTIONS, drop=("amount",)))
    result = run_quality_gate(spark, df, suite="transactions", layer="silver", contract=TRANSACTIONS,
                              run_date="2024-03-01", run_id="r1", ops_root=str(tmp_path / "ops"),
                              suites_directory=suites, build_docs=False)
    assert [f.expectation for f in result.failed] == ["schema:missing_column(amount)"]
    assert result.summary["evaluated"] == 0 and result.summary["status"] == "failed"
    with pytest.raises(QualityGateFailed, match=r"schema:missing_column\(amount\).*required column 'amount'"):
        raise_if_failed(result)
    stored = json.loads(Path(result.summary["result_path"]).read_text())
    assert stored["success"] is False and stored["results"] == []
    assert stored["meta"]["lakehouse"]["summary"]["schema_issues"][0]["column"] == "amount"


def test_quarantine_policy_withholds_the_new_column_from_promotion(spark: SparkSession, tmp_path: Path,
                                                                   suites: Path) -> None:
    df = _rows(spark, _schema(TRANSACTIONS, add={"promo_code": T.StringType()}))
    result = run_quality_gate(spark, df, suite="transactions", layer="silver", contract=TRANSACTIONS,
                              run_date="2024-03-01", run_id="r1", ops_root=str(tmp_path / "ops"),
                              suites_directory=suites, build_docs=False)
    assert result.passed
    assert [w.expectation for w in result.warnings] == ["schema:unexpected_column(promo_code)"]
    assert "promo_code" not in result.valid.columns and result.valid.count() == 1
    assert result.summary["withheld_columns"] == ["promo_code"]
