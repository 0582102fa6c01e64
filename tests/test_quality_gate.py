"""The gate's severities end to end on small frames: warn, quarantine, fail, escalation, skips, records."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pyspark.sql import DataFrame, SparkSession

from jobs.contracts import Contract, parse_contract
from jobs.quality import GateResult, QualityGateFailed, raise_if_failed, run_quality_gate
from jobs.quality.routing import REASON_COLUMN
from tests.frames import rows

NOW = datetime(2024, 3, 2, 6, 0, tzinfo=UTC)
RUN_DATE = "2024-03-01"

MINI_CONTRACT = parse_contract({
    "name": "mini", "format": "jsonl", "key": ["id"], "event_time": "ts",
    "columns": [
        {"name": "id", "type": "string", "required": True},
        {"name": "customer_id", "type": "string"},
        {"name": "channel", "type": "string"},
        {"name": "amount", "type": "decimal(12,2)"},
        {"name": "code", "type": "string"},
        {"name": "email", "type": "string", "pii": "tokenize"},
        {"name": "ts", "type": "timestamp", "required": True},
    ],
}, "test:mini")
MINI_SCHEMA = ("id string, customer_id string, channel string, amount decimal(12,2), code string, "
               "email string, ts timestamp")


def _exp(type_name: str, severity: str, meta: dict | None = None, **kwargs: object) -> dict:
    return {"type": type_name, "kwargs": kwargs, "meta": {"severity": severity, **(meta or {})}}


MINI_SUITE = {
    "name": "silver.mini",
    "expectations": [
        _exp("expect_column_values_to_not_be_null", "fail", column="id"),
        _exp("expect_column_values_to_be_unique", "fail", column="id"),
        _exp("expect_column_values_to_be_in_set", "quarantine", column="channel", value_set=["web", "app"]),
        _exp("expect_column_values_to_be_between", "quarantine", column="amount", min_value=0, strict_min=True,
             max_value=100),
        _exp("expect_column_values_to_match_regex", "warn", column="code", regex="^[A-Z]{3}$"),
        _exp("expect_column_values_to_not_be_null", "warn", column="email"),
        _exp("expect_column_values_to_be_between", "quarantine", column="ts",
             max_value={"$PARAMETER": "latest_event_time"}),
        _exp("expect_table_row_count_to_be_between", "warn",
             {"requires": ["previous_row_count"], "label": "row_count_vs_previous_partition"},
             min_value={"$PARAMETER": "trunc(previous_row_count * 0.5)"},
             max_value={"$PARAMETER": "previous_row_count * 2"}),
        _exp("unexpected_rows_expectation", "warn",
             {"requires": ["known_customer_ids"], "label": "customer_id_references_known_customer"},
             unexpected_rows_query="SELECT b.customer_id FROM {batch} b LEFT ANTI JOIN known_customer_ids k "
                                   "ON b.customer_id = k.customer_id WHERE b.customer_id IS NOT NULL"),
    ],
}
ESCALATING_SUITE = {
    "name": "silver.mini",
    "expectations": [
        _exp("expect_column_values_to_be_in_set", "quarantine", column="channel", value_set=["web", "app"],
             mostly=0.9),
    ],
}
TS = datetime(2024, 3, 1, 10, 0)


def _suites(tmp_path: Path, suite: dict) -> Path:
    folder = tmp_path / "expectations"
    (folder / "silver").mkdir(parents=True)
    (folder / "silver" / "mini.json").write_text(json.dumps(suite))
    return folder


def _frame(spark: SparkSession, data: list[tuple]) -> DataFrame:
    return spark.createDataFrame(data, MINI_SCHEMA)


def _gate(spark: SparkSession, df: DataFrame, tmp_path: Path, suite: dict = MINI_SUITE,
          contract: Contract | None = MINI_CONTRACT, **kwargs: Any) -> GateResult:
    return run_quality_gate(spark, df, suite="mini", layer="silver", contract=contract, run_date=RUN_DATE,
                            run_id=str(kwargs.pop("run_id", "run-1")), ops_root=str(tmp_path / "ops"),
                            suites_directory=_suites(tmp_path, suite), now=NOW, **kwargs)


DIRTY = [
    ("a1", "C1", "web", Decimal("10.00"), "ABC", "tok_1", TS),
    ("a2", "C2", "fax", Decimal("10.00"), "ABC", "tok_2", TS),        # channel not allowed
    ("a3", "C9", "app", Decimal("0.00"), "abc", None, TS),            # amount <= 0; code/email warn
    ("a4", "C1", "fax", Decimal("500.00"), "XYZ", "tok_4", TS),       # channel and amount
    ("a5", None, "web", Decimal("1.00"), "XYZ", "tok_5", datetime(2030, 1, 1)),  # in the future
    ("a6", "C2", None, None, "xy1", "tok_6", TS),  # only a warning (code); nulls are not unexpected here
]


@pytest.fixture(scope="module")
def dirty_result(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GateResult, Path]]:
    tmp_path = tmp_path_factory.mktemp("dirty")
    known = spark.createDataFrame([("C1",), ("C2",)], "customer_id string")
    result = _gate(spark, _frame(spark, DIRTY), tmp_path,
                   context={"previous_row_count": 100, "known_customer_ids": known}, build_docs=False)
    yield result, tmp_path
    result.release()


def test_quarantine_routes_failing_rows_and_promotes_the_rest(dirty_result: tuple[GateResult, Path]) -> None:
    result, _ = dirty_result
    assert result.passed
    assert rows(result.valid, ["id"]) == [{"id": "a1"}, {"id": "a6"}]
    assert rows(result.quarantined, ["id", REASON_COLUMN]) == [
        {"id": "a2", REASON_COLUMN: "expectation:expect_column_values_to_be_in_set(channel)"},
        {"id": "a3", REASON_COLUMN: "expectation:expect_column_values_to_be_between(amount)"},
        {"id": "a4", REASON_COLUMN: "expectation:expect_column_values_to_be_in_set(channel)"},
        {"id": "a5", REASON_COLUMN: "expectation:expect_column_values_to_be_between(ts)"},
    ]
    summary = result.summary
    assert summary["quarantined_rows"] == 4
    assert summary["quarantined_by_reason"] == {
        "expectation:expect_column_values_to_be_between(amount)": 1,
        "expectation:expect_column_values_to_be_between(ts)": 1,
        "expectation:expect_column_values_to_be_in_set(channel)": 2,
    }
    routed = {f.expectation: f.unexpected_count for f in result.routed}
    assert routed == {"expect_column_values_to_be_in_set(channel)": 2,
                      "expect_column_values_to_be_between(amount)": 2,
                      "expect_column_values_to_be_between(ts)": 1}


def test_warnings_are_recorded_and_rows_kept(dirty_result: tuple[GateResult, Path]) -> None:
    result, _ = dirty_result
    warnings = {w.expectation: w for w in result.warnings}
    assert set(warnings) == {"expect_column_values_to_match_regex(code)", "expect_column_values_to_not_be_null(email)",
                             "row_count_vs_previous_partition", "customer_id_references_known_customer"}
    code = warnings["expect_column_values_to_match_regex(code)"]
    assert (code.unexpected_count, code.element_count, sorted(code.sample)) == (2, 6, ["abc", "xy1"])
    email = warnings["expect_column_values_to_not_be_null(email)"]
    assert email.unexpected_count == 1 and email.sample == [] and "PII" in email.detail
    assert "observed 6" in warnings["row_count_vs_previous_partition"].detail
    assert warnings["customer_id_references_known_customer"].sample == [{"customer_id": "C9"}]
    # a row that only fails warn expectations is promoted
    assert {"id": "a6"} in rows(result.valid, ["id"])
    assert result.summary["status"] == "passed"
    assert result.summary["warnings"] == [w.expectation for w in result.warnings]


def test_result_is_stored_with_the_run(dirty_result: tuple[GateResult, Path]) -> None:
    result, tmp_path = dirty_result
    path = Path(result.summary["result_path"])
    assert path == tmp_path / "ops/quality/results/silver/mini/run_date=2024-03-01/run-1.json"
    document = json.loads(path.read_text())
    assert document["suite_name"] == "silver.mini"
    assert document["statistics"]["evaluated_expectations"] == 9
    gate = document["meta"]["lakehouse"]
    assert gate["gate_status"] == "passed" and gate["run_id"] == "run-1"
    assert gate["summary"]["quarantined_rows"] == 4
    severities = {r["expectation_config"]["meta"]["severity"] for r in document["results"]}
    assert severities == {"fail", "quarantine", "warn"}
    failing = {r["expectation_config"]["type"]: r["result"] for r in document["results"] if not r["success"]}
    assert sorted(failing["expect_column_values_to_match_regex"]["partial_unexpected_list"]) == ["abc", "xy1"]


def test_fail_raises_naming_suite_expectation_count_and_sample(spark: SparkSession, tmp_path: Path) -> None:
    data = [("a1", "C1", "web", Decimal("1.00"), "ABC", "t", TS), (None, "C1", "web", Decimal("1.00"), "ABC", "t", TS),
            ("a1", "C1", "web", Decimal("2.00"), "ABC", "t", TS)]
    result = _gate(spark, _frame(spark, data), tmp_path, build_docs=False)
    assert not result.passed
    assert {f.expectation for f in result.failed} == {"expect_column_values_to_not_be_null(id)",
                                                        "expect_column_values_to_be_unique(id)"}
    assert result.summary["status"] == "failed" and result.summary["quarantined_rows"] == 0
    with pytest.raises(QualityGateFailed) as raised:
        raise_if_failed(result)
    message = str(raised.value)
    assert "suite silver.mini" in message
    assert "expect_column_values_to_be_unique(id) [fail]; 2 unexpected of 3 rows" in message
    assert "sample: 'a1', 'a1'" in message
    assert "expect_column_values_to_not_be_null(id) [fail]; 1 unexpected of 3 rows" in message
    assert result.summary["result_path"] in message
    stored = json.loads(Path(result.summary["result_path"]).read_text())
    assert stored["meta"]["lakehouse"]["gate_status"] == "failed"


def test_quarantine_over_mostly_threshold_escalates_to_fail(spark: SparkSession, tmp_path: Path) -> None:
    data = [(f"a{i}", "C1", "fax" if i < 3 else "web", Decimal("1.00"), "ABC", "t", TS) for i in range(10)]
    result = _gate(spark, _frame(spark, data), tmp_path, suite=ESCALATING_SUITE, build_docs=False)
    assert [f.expectation for f in result.failed] == ["expect_column_values_to_be_in_set(channel)"]
    failure = result.failed[0]
    assert failure.unexpected_count == 3 and failure.sample == ["fax", "fax", "fax"]
    assert "escalated to fail" in failure.detail


def test_quarantine_within_mostly_threshold_routes(spark: SparkSession, tmp_path: Path) -> None:
    data = [(f"a{i}", "C1", "fax" if i == 0 else "web", Decimal("1.00"), "ABC", "t", TS) for i in range(20)]
    result = _gate(spark, _frame(spark, data), tmp_path, suite=ESCALATING_SUITE, build_docs=False)
    assert result.passed and result.summary["quarantined_rows"] == 1
    assert rows(result.quarantined, ["id"]) == [{"id": "a0"}]


def test_expectations_without_their_context_are_skipped(spark: SparkSession, tmp_path: Path) -> None:
    data = [("a1", "C1", "web", Decimal("1.00"), "ABC", "t", TS)]
    result = _gate(spark, _frame(spark, data), tmp_path, build_docs=False)
    assert result.passed and not result.warnings
    assert result.summary["skipped"] == [
        {"expectation": "row_count_vs_previous_partition", "requires": ["previous_row_count"]},
        {"expectation": "customer_id_references_known_customer", "requires": ["known_customer_ids"]},
    ]
    assert result.summary["evaluated"] == 7
    assert rows(result.valid) == rows(_frame(spark, data))


def test_query_expectations_validated_on_their_own_still_give_one_result_in_suite_order(
        spark: SparkSession, tmp_path: Path) -> None:
    """Query expectations run apart from the others (they take turns on the session's views); the
    result, its statistics and the warnings read as one validation of the suite, in its order."""
    query_first = {"name": "silver.mini", "expectations": [MINI_SUITE["expectations"][-1],
                                                           *MINI_SUITE["expectations"][:-1]]}
    known = spark.createDataFrame([("C1",), ("C2",)], "customer_id string")
    result = _gate(spark, _frame(spark, DIRTY), tmp_path, suite=query_first, build_docs=False,
                   context={"previous_row_count": 100, "known_customer_ids": known})
    try:
        gx = result.validation_result
        assert [r.expectation_config.type for r in gx.results] == [e["type"] for e in query_first["expectations"]]
        assert gx.statistics["evaluated_expectations"] == 9 and gx.statistics["successful_expectations"] == 2
        assert gx.success is False
        assert [w.expectation for w in result.warnings] == [
            "customer_id_references_known_customer", "expect_column_values_to_match_regex(code)",
            "expect_column_values_to_not_be_null(email)", "row_count_vs_previous_partition"]
        assert result.summary["quarantined_rows"] == 4
        assert "known_customer_ids" not in [t.name for t in spark.catalog.listTables()]
    finally:
        result.release()


def test_a_small_batch_validated_on_its_collected_rows_gives_the_spark_engines_verdicts(
        spark: SparkSession, tmp_path: Path, dirty_result: tuple[GateResult, Path]) -> None:
    """Small batches validate on GE's pandas engine (query expectations on Spark): same verdicts,
    counts, samples, routing and stored result as the Spark engine."""
    on_spark, _ = dirty_result
    known = spark.createDataFrame([("C1",), ("C2",)], "customer_id string")
    small = _gate(spark, _frame(spark, DIRTY), tmp_path, small_batch=True, rows=len(DIRTY), build_docs=False,
                  context={"previous_row_count": 100, "known_customer_ids": known})
    try:
        def described(result: GateResult) -> list[tuple]:
            return [(f.expectation, f.severity, f.unexpected_count, f.element_count,
                     sorted(map(repr, f.sample or []))) for f in result.failed + result.warnings + result.routed]

        assert described(small) == described(on_spark)
        assert small.summary == {**on_spark.summary, "result_path": small.summary["result_path"],
                                 "docs_path": small.summary["docs_path"]}
        assert rows(small.quarantined, ["id", "_quarantine_reason"]) == rows(on_spark.quarantined,
                                                                             ["id", "_quarantine_reason"])
        assert rows(small.valid, ["id"]) == rows(on_spark.valid, ["id"])
        assert ([r.success for r in small.validation_result.results]
                == [r.success for r in on_spark.validation_result.results])
    finally:
        small.release()


def test_collected_rows_keep_the_sessions_utc_timestamps_and_exact_decimals(spark: SparkSession) -> None:
    from jobs.quality.local_rows import rows_as_pandas

    frame = rows_as_pandas(_frame(spark, DIRTY))
    assert list(frame.columns) == ["id", "customer_id", "channel", "amount", "code", "email", "ts"]
    assert frame["ts"].tolist()[:1] == [pd.Timestamp(TS)] and frame["ts"].tolist()[4] == pd.Timestamp(2030, 1, 1)
    assert frame["amount"].tolist()[3] == Decimal("500.00") and frame["channel"].tolist()[5] is None


def test_only_batches_known_to_be_small_are_collected(spark: SparkSession, tmp_path: Path, monkeypatch) -> None:
    """Collecting costs per row in the driver: past COLLECTED_ROWS_LIMIT (or with no row count) the
    suite runs on Spark; a gate told nothing counts the frame itself."""
    from jobs.quality import gate

    collected: list[int] = []
    real = gate.rows_as_pandas
    monkeypatch.setattr(gate, "rows_as_pandas", lambda df: collected.append(1) or real(df))
    for attempt, rows_known in enumerate((gate.COLLECTED_ROWS_LIMIT + 1, None)):
        _gate(spark, _frame(spark, DIRTY), tmp_path / str(attempt), small_batch=True, rows=rows_known,
              build_docs=False).release()
        assert collected == []
    _gate(spark, _frame(spark, DIRTY), tmp_path / "measured", small_batch=None, build_docs=False).release()
    assert collected == [1]
