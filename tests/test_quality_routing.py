"""Quarantine routing must select exactly the rows Great Expectations itself reports as unexpected.

The oracle is GE's own `unexpected_index_list` (result format COMPLETE, indexed by `row_id`) on the
same data, for every row-level expectation type: the ones the shipped suites quarantine on and the
other map families (pair, multicolumn, window-based uniqueness) whose domains GE filters.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.quality import gx_runtime
from jobs.quality.parameters import runtime_parameters
from jobs.quality.routing import (
    REASON_COLUMN,
    REASONS_COLUMN,
    RoutingError,
    RowCheck,
    count_routed,
    domain_predicate,
    row_checks,
    split_rows,
    verify_against_gx,
)
from jobs.quality.suites import parse_suite
from tests.frames import rows

NOW = datetime(2024, 3, 1, 12, 0)
SCHEMA = ("row_id int, s string, s2 string, n decimal(12,2), t timestamp, a int, b int, "
          "k1 string, k2 string, p1 int, p2 int, p3 int")
DATA = [
    # row_id, s, s2, n, t, a, b, k1, k2, p1, p2, p3
    (1, "TA1F", "x", Decimal("0.01"), datetime(2024, 3, 1, 9), 5, 3, "u1", "a", 1, 0, 0),
    (2, "ta1f", "x", Decimal("0.00"), datetime(2024, 3, 1, 12, 10), 3, 5, "u1", "b", 0, 1, 0),
    (3, None, "y", Decimal("100.00"), datetime(2024, 3, 1, 12, 11), None, 2, "u2", "a", 0, 0, 0),
    (4, "T00", "banned", Decimal("100.01"), None, None, None, None, "a", 1, 1, 0),
    (5, "TZZZ", None, None, datetime(2030, 1, 1), 4, None, None, "a", None, 1, 0),
    (6, "TABC", "x", Decimal("-5.00"), datetime(2023, 1, 1), 7, 7, "u3", "c", 0, 0, 1),
    (7, "TABC", "x", Decimal("55.55"), datetime(2023, 1, 1), 1, 9, "u3", "c", 0, 0, 1),
    (8, "T", "y", Decimal("1.00"), datetime(2023, 1, 1), 2, 1, "u4", None, 1, 0, 0),
    (9, "TA1F", "y", Decimal("1.00"), datetime(2023, 1, 1), 2, 1, "u5", None, 1, 0, 0),
]


def _exp(type_name: str, **kwargs: object) -> dict:
    return {"type": type_name, "kwargs": kwargs, "meta": {"severity": "quarantine"}}


PROBE_EXPECTATIONS = [
    _exp("expect_column_values_to_not_be_null", column="s"),
    _exp("expect_column_values_to_match_regex", column="s", regex="^T[0-9A-F]{3}$"),
    _exp("expect_column_values_to_be_in_set", column="s", value_set=["TA1F", "TABC", "T00"]),
    _exp("expect_column_values_to_not_be_in_set", column="s2", value_set=["banned"]),
    _exp("expect_column_values_to_be_between", column="n", min_value=0, strict_min=True, max_value=100),
    _exp("expect_column_values_to_be_between", column="t", max_value={"$PARAMETER": "latest_event_time"}),
    _exp("expect_column_value_lengths_to_be_between", column="s", min_value=3, max_value=4),
    _exp("expect_column_values_to_be_unique", column="k1"),
    _exp("expect_column_pair_values_a_to_be_greater_than_b", column_A="a", column_B="b", or_equal=True),
    _exp("expect_column_pair_values_to_be_equal", column_A="a", column_B="b",
         ignore_row_if="either_value_is_missing"),
    _exp("expect_compound_columns_to_be_unique", column_list=["k1", "k2"]),
    _exp("expect_multicolumn_sum_to_equal", column_list=["p1", "p2", "p3"], sum_total=1),
]
PROBE = parse_suite({"name": "silver.routing_probe", "expectations": PROBE_EXPECTATIONS},
                    "silver", "routing_probe", "test")
ASSET = "silver_routing_probe"
LABELS = [e.label for e in PROBE.expectations]


@pytest.fixture(scope="module")
def probe_df(spark: SparkSession) -> DataFrame:
    return spark.createDataFrame(DATA, SCHEMA).cache()


@pytest.fixture(scope="module")
def parameters() -> dict:
    return runtime_parameters("2024-03-01", {}, {}, now=NOW)


@pytest.fixture(scope="module")
def gx_unexpected(probe_df: DataFrame, parameters: dict) -> dict[str, set[int]]:
    """GE's verdict, row by row: the row_ids in each expectation's unexpected_index_list."""
    result = gx_runtime.validate(probe_df, PROBE.to_gx_suite(), ASSET, parameters,
                                 {"result_format": "COMPLETE", "unexpected_index_column_names": ["row_id"]})
    by_id = {str(r.expectation_config.id): r for r in result.results}
    out = {}
    for expectation in PROBE.expectations:
        outcome = by_id[expectation.id]
        assert not outcome.exception_info.get("raised_exception"), outcome.exception_info
        out[expectation.label] = {item["row_id"] for item in outcome.result["unexpected_index_list"]}
        assert len(out[expectation.label]) == outcome.result["unexpected_count"]
    return out


@pytest.fixture(scope="module")
def checks(probe_df: DataFrame, parameters: dict) -> list[RowCheck]:
    return row_checks(gx_runtime.metric_validator(probe_df, ASSET), list(PROBE.expectations), parameters)


def _flagged_ids(df: DataFrame, check: RowCheck) -> set[int]:
    return {r["row_id"] for r in df.select("row_id", check.unexpected.alias("u")).where("u").collect()}


@pytest.mark.parametrize("label", LABELS)
def test_routed_rows_equal_gx_unexpected_rows(probe_df: DataFrame, checks: list, gx_unexpected: dict,
                                              label: str) -> None:
    check = next(c for c in checks if c.expectation.label == label)
    assert _flagged_ids(probe_df, check) == gx_unexpected[label]


def test_probe_data_exercises_every_expectation(gx_unexpected: dict) -> None:
    # A probe on which GE finds nothing wrong (or everything) would prove nothing.
    for label, ids in gx_unexpected.items():
        assert 0 < len(ids) < len(DATA), label


def test_split_promotes_exactly_the_rows_no_expectation_flags(probe_df: DataFrame, checks: list,
                                                               gx_unexpected: dict) -> None:
    flagged = set().union(*gx_unexpected.values())
    valid, quarantined = split_rows(probe_df, checks, probe_df.columns)
    assert {r["row_id"] for r in valid.collect()} == {r[0] for r in DATA} - flagged
    assert sorted(quarantined.columns) == sorted([*probe_df.columns, REASON_COLUMN, REASONS_COLUMN])
    reasons = {r["row_id"]: r for r in quarantined.collect()}
    assert set(reasons) == flagged
    for row_id, row in reasons.items():
        expected = [c.expectation.reason for c in checks if row_id in gx_unexpected[c.expectation.label]]
        assert row[REASONS_COLUMN] == expected
        assert row[REASON_COLUMN] == expected[0]


def test_routing_counts_agree_with_gx_and_reasons_partition_the_rows(probe_df: DataFrame, checks: list,
                                                                     gx_unexpected: dict) -> None:
    counts = count_routed(probe_df, checks)
    assert counts.unexpected_by_expectation == {label: len(ids) for label, ids in gx_unexpected.items()}
    assert counts.quarantined_rows == len(set().union(*gx_unexpected.values()))
    assert sum(counts.by_primary_reason.values()) == counts.quarantined_rows
    verify_against_gx(counts, {label: len(ids) for label, ids in gx_unexpected.items()})
    with pytest.raises(RoutingError, match="disagrees"):
        verify_against_gx(counts, {LABELS[0]: len(gx_unexpected[LABELS[0]]) + 1})


def test_split_without_checks_promotes_everything(probe_df: DataFrame) -> None:
    valid, quarantined = split_rows(probe_df, [], ["row_id", "s"])
    assert rows(valid) == rows(probe_df.select("row_id", "s"))
    assert quarantined.count() == 0
    assert REASON_COLUMN in quarantined.columns


def test_domain_with_row_condition_is_refused() -> None:
    with pytest.raises(RoutingError):
        domain_predicate({"row_condition": 'col("a") > 1', "condition_parser": "great_expectations"})


def test_domain_filters_mirror_gx(spark: SparkSession) -> None:
    df = spark.createDataFrame([(1, None), (None, 2), (None, None), (3, 4)], "a int, b int")
    kept = df.where(domain_predicate({"column_A": "a", "column_B": "b", "ignore_row_if": "both_values_are_missing"}))
    assert kept.count() == 3
    kept = df.where(domain_predicate({"column_list": ["a", "b"], "ignore_row_if": "any_value_is_missing"}))
    assert rows(kept) == [{"a": 3, "b": 4}]
    assert df.where(domain_predicate({"column": "a"})).count() == 4
    assert df.where(F.lit(True)).count() == 4
