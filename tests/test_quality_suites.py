"""Suites as data: the shipped suites load strictly, and a bad suite fails at load naming the problem."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from jobs.contracts import list_datasets, load_contract
from jobs.quality.parameters import runtime_parameters
from jobs.quality.suite_sources import contract_expectations
from jobs.quality.suites import (
    QUARANTINE,
    SEVERITIES,
    SuiteError,
    list_suites,
    load_suite,
    parameter_names,
    parse_suite,
)

SHIPPED = [("silver", d) for d in ("customers", "transactions", "support_tickets")] + [
    ("gold", d) for d in ("customer_features", "daily_merchant_metrics")]


def _exp(type_name: str, severity: str = "warn", **kwargs: object) -> dict:
    return {"type": type_name, "kwargs": kwargs, "meta": {"severity": severity}}


def _suite(*expectations: dict, meta: dict | None = None) -> dict:
    return {"name": "silver.demo", "meta": meta or {}, "expectations": list(expectations)}


def test_every_dataset_contract_names_a_shipped_silver_suite() -> None:
    assert list_suites() == {"silver": ["customers", "support_tickets", "transactions"],
                             "gold": ["customer_features", "daily_merchant_metrics"]}
    for dataset in list_datasets():
        assert load_contract(dataset).quality_suite in list_suites()["silver"]


@pytest.mark.parametrize(("layer", "dataset"), SHIPPED)
def test_shipped_suites_load_with_a_severity_on_every_expectation(layer: str, dataset: str) -> None:
    suite = load_suite(layer, dataset)
    raw = json.loads(Path(suite.source).read_text())
    assert suite.name == f"{layer}.{dataset}"
    contract = raw["meta"].get("contract")
    derived = contract_expectations(load_contract(contract)) if contract else []
    assert len(suite.expectations) == len(derived) + len(raw["expectations"])  # nothing silently dropped
    assert all(e.severity in SEVERITIES for e in suite.expectations)
    assert all(e.row_level for e in suite.expectations if e.severity == QUARANTINE)
    assert len({e.id for e in suite.expectations}) == len(suite.expectations)


def test_silver_suites_assert_no_raw_format_on_pii_columns() -> None:
    # PII columns are tokenized/masked in silver: only presence may be asserted on them.
    for dataset in ("customers", "transactions", "support_tickets"):
        contract = load_contract(dataset)
        pii = {c.name for c in contract.columns if c.pii is not None and c.pii.action != "generalize"}
        for expectation in load_suite("silver", dataset).expectations:
            if set(expectation.columns) & pii:
                assert expectation.config.type == "expect_column_values_to_not_be_null", expectation.label


def test_ids_are_stable_across_loads() -> None:
    first = [e.id for e in load_suite("silver", "transactions").expectations]
    assert first == [e.id for e in load_suite("silver", "transactions").expectations]


@pytest.mark.parametrize(("document", "message"), [
    (_suite(_exp("expect_column_values_to_not_be_null", "critical", column="a")), "meta.severity must be one of"),
    (_suite(_exp("expect_table_row_count_to_be_between", "quarantine", min_value=1)),
     "needs a row-level \\(map\\) expectation"),
    (_suite(_exp("expect_column_values_to_be_in_set", "quarantine", column="a", value_set=["x"],
                 row_condition='col("b")>1', condition_parser="great_expectations")), "cannot use row_condition"),
    (_suite(_exp("expect_column_values_to_be_between", column="a", max_value={"$PARAMETER": "yesterday"})),
     "\\['yesterday'\\], which is neither a standard parameter"),
    (_suite(_exp("expect_column_values_to_be_in_set", column="a", valueset=["x"])),
     "not a valid Great Expectations expectation"),
    (_suite(_exp("expect_column_values_to_be_nice", column="a")), "not a valid Great Expectations expectation"),
    (_suite(_exp("expect_column_values_to_not_be_null", column="a"), _exp("expect_column_values_to_not_be_null",
                                                                          "fail", column="a")),
     "must be distinct"),
    (_suite(meta={"parameters": {"cutoff": {"weeks_before_today": 2}}}), "meta.parameters"),
    ({"name": "gold.demo", "expectations": []}, "name must be 'silver.demo'"),
])
def test_invalid_suites_fail_at_load_naming_the_problem(document: dict, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        parse_suite(document, "silver", "demo", "demo.json")


def test_unknown_suite_lists_the_known_ones() -> None:
    with pytest.raises(SuiteError, match="known: customers, support_tickets, transactions"):
        load_suite("silver", "nope")


def test_parameter_names_skip_the_expression_language() -> None:
    kwargs = {"min_value": {"$PARAMETER": "trunc(previous_row_count * 0.5)"},
              "max_value": {"$PARAMETER": "round(previous_row_count * E)"}, "column": "x"}
    assert parameter_names(kwargs) == {"previous_row_count"}


def test_runtime_parameters_derive_dates_and_pass_scalar_context() -> None:
    values = runtime_parameters("2024-03-01", {"latest_birth_date": {"years_before_today": 17},
                                               "cutoff": {"days_before_today": 2}},
                                {"previous_row_count": 10, "known_ids": object()},
                                now=datetime(2024, 2, 29, 12, 0, tzinfo=UTC))
    assert values["latest_birth_date"] == date(2007, 2, 28)  # 29 February, 17 years earlier
    assert values["now_utc"] == datetime(2024, 2, 29, 12, 0)  # naive UTC, as Spark compares timestamps
    assert values["cutoff"] == date(2024, 2, 27)
    assert values["run_date"] == date(2024, 3, 1)
    assert values["latest_event_time"] > values["now_utc"]
    assert values["previous_row_count"] == 10 and "known_ids" not in values
