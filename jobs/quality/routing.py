"""Row-level routing for `quarantine` expectations, with Great Expectations' own row semantics.

For a map expectation GE's Spark engine computes a `<map_metric>.condition` metric: a Spark Column
that is true exactly for the rows GE counts as unexpected, plus the domain (filters) it applies
before counting. The gate resolves those metrics from GE and evaluates them on the DataFrame, so
nulls, `mostly`, strictness, regex dialect and window semantics (uniqueness) are GE's, not a copy.

The domain filters GE can attach are mirrored from `SparkDFExecutionEngine.get_domain_records`:
`filter_conditions` (Spark SQL strings GE generates, e.g. the not-null filter of window metrics)
and `ignore_row_if` of pair/multicolumn domains. `row_condition` is refused at suite load time.
Every run cross-checks the routed count per expectation against GE's `unexpected_count`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import reduce
from typing import Any

from great_expectations.execution_engine import SparkDFExecutionEngine
from great_expectations.expectations.registry import get_metric_kwargs
from great_expectations.validator.metric_configuration import MetricConfiguration
from great_expectations.validator.validator import Validator as MetricValidator
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.quality.suites import SuiteExpectation

REASON_COLUMN = "_quarantine_reason"
REASONS_COLUMN = "_quarantine_reasons"
_FLAG_PREFIX = "__gate_unexpected_"
_IGNORED_DOMAIN_KEYS = {"batch_id", "table", "row_condition", "condition_parser", "filter_conditions",
                        "column", "column_A", "column_B", "column_list", "ignore_row_if"}


class RoutingError(RuntimeError):
    """Rows could not be routed exactly as GE judged them (never silently misroute)."""


@dataclass(frozen=True)
class RowCheck:
    expectation: SuiteExpectation
    unexpected: Column  # true exactly where GE counts the row as unexpected


def _either_missing(columns: list[str], rule: str) -> Column | None:
    missing = [F.col(c).isNull() for c in columns]
    if rule in ("both_values_are_missing", "all_values_are_missing"):
        return reduce(lambda a, b: a & b, missing)
    if rule in ("either_value_is_missing", "any_value_is_missing"):
        return reduce(lambda a, b: a | b, missing)
    if rule in ("neither", "never"):
        return None
    raise RoutingError(f"unrecognized ignore_row_if {rule!r}")


def domain_predicate(domain_kwargs: dict[str, Any]) -> Column:
    """True for the rows `get_domain_records(domain_kwargs)` keeps (same rules, same order)."""
    unsupported = {k for k, v in domain_kwargs.items() if v and k not in _IGNORED_DOMAIN_KEYS}
    if domain_kwargs.get("row_condition") or unsupported:
        raise RoutingError(f"cannot route rows for a domain with {sorted(unsupported) or ['row_condition']}")
    keep = F.lit(True)
    conditions = domain_kwargs.get("filter_conditions") or []
    if conditions:
        combined = SparkDFExecutionEngine._combine_row_conditions(conditions)
        keep = keep & F.expr(combined.condition)
    if "column" in domain_kwargs:
        return keep
    rule = domain_kwargs.get("ignore_row_if")
    pair = [domain_kwargs[k] for k in ("column_A", "column_B") if k in domain_kwargs]
    columns = pair if len(pair) == 2 else list(domain_kwargs.get("column_list") or [])
    if rule and columns:
        ignored = _either_missing(columns, rule)
        if ignored is not None:
            keep = keep & ~ignored
    return keep


def row_checks(validator: MetricValidator, expectations: list[SuiteExpectation],
               parameters: dict[str, Any]) -> list[RowCheck]:
    """Resolve GE's unexpected-row condition for each row-level expectation (no data is scanned)."""
    if not expectations:
        return []
    configs = [copy.deepcopy(e.config) for e in expectations]  # GE substitutes parameters in place
    processed = {c.id: c for c in validator.process_expectations_for_validation(configs, parameters)}
    requested: dict[str, MetricConfiguration] = {}
    for expectation in expectations:
        config = processed[expectation.id]
        metric_name = f"{config._get_expectation_impl().map_metric}.condition"
        kwargs = get_metric_kwargs(metric_name=metric_name, configuration=config, runtime_configuration={})
        domain = {**kwargs["metric_domain_kwargs"], "batch_id": validator.active_batch_id}
        requested[expectation.id] = MetricConfiguration(metric_name, domain, kwargs["metric_value_kwargs"])
    resolved, aborted = validator.compute_metrics(list(requested.values()))
    if aborted:
        raise RoutingError(f"GE could not resolve row conditions: {sorted(str(k) for k in aborted)}")
    checks = []
    for expectation in expectations:
        condition, compute_domain, accessor_domain = resolved[requested[expectation.id].id]
        # GE counts and lists unexpected rows over get_domain_records(compute ∪ accessor kwargs).
        domain = domain_predicate({**compute_domain, **accessor_domain})
        unexpected = F.coalesce(domain & condition, F.lit(False))
        checks.append(RowCheck(expectation, unexpected))
    return checks


def _flag(index: int) -> str:
    return f"{_FLAG_PREFIX}{index}"


def with_flags(df: DataFrame, checks: list[RowCheck]) -> DataFrame:
    """One boolean column per check (a projection, so window conditions are allowed)."""
    return df.select("*", *[c.unexpected.alias(_flag(i)) for i, c in enumerate(checks)])


def split_rows(df: DataFrame, checks: list[RowCheck], promoted_columns: list[str]) -> tuple[DataFrame, DataFrame]:
    """(rows to promote, quarantined rows with `_quarantine_reason` and `_quarantine_reasons`).

    The reason is the first failed expectation in suite order; all of them are in the array.
    """
    if not checks:
        return df.select(*promoted_columns), df.limit(0).select(
            "*", F.lit(None).cast("string").alias(REASON_COLUMN),
            F.array().cast("array<string>").alias(REASONS_COLUMN))
    flagged = with_flags(df, checks)
    flags = [F.col(_flag(i)) for i in range(len(checks))]
    any_flag = reduce(lambda a, b: a | b, flags)
    reasons = F.filter(F.array(*[F.when(f, F.lit(c.expectation.reason)) for f, c in zip(flags, checks, strict=True)]),
                       lambda r: r.isNotNull())
    valid = flagged.where(~any_flag).select(*promoted_columns)
    quarantined = (flagged.where(any_flag)
                   .select(*df.columns, reasons.alias(REASONS_COLUMN))
                   .select(*df.columns, F.col(REASONS_COLUMN)[0].alias(REASON_COLUMN), REASONS_COLUMN))
    return valid, quarantined


@dataclass(frozen=True)
class RoutingCounts:
    quarantined_rows: int
    unexpected_by_expectation: dict[str, int]  # label -> rows flagged (a row may count under several)
    by_primary_reason: dict[str, int]  # reason -> rows whose first failure it is (sums to the total)


def count_routed(df: DataFrame, checks: list[RowCheck]) -> RoutingCounts:
    """All routing counts in one aggregate pass over the (cached) DataFrame."""
    flagged = with_flags(df, checks)
    flags = [F.col(_flag(i)) for i in range(len(checks))]
    aggregates = [F.count(F.when(reduce(lambda a, b: a | b, flags), 1)).alias("total")]
    for i, flag in enumerate(flags):
        aggregates.append(F.count(F.when(flag, 1)).alias(f"u{i}"))
        earlier = [~f for f in flags[:i]]
        primary = reduce(lambda a, b: a & b, [*earlier, flag])
        aggregates.append(F.count(F.when(primary, 1)).alias(f"p{i}"))
    row = flagged.agg(*aggregates).collect()[0]
    by_expectation = {c.expectation.label: int(row[f"u{i}"]) for i, c in enumerate(checks)}
    primary = {c.expectation.reason: int(row[f"p{i}"]) for i, c in enumerate(checks) if row[f"p{i}"]}
    return RoutingCounts(int(row["total"]), by_expectation, primary)


def verify_against_gx(counts: RoutingCounts, gx_unexpected: dict[str, int | None]) -> None:
    """Fail loudly if the routed rows differ from GE's unexpected count for any expectation."""
    differences = {label: (counts.unexpected_by_expectation.get(label), expected)
                   for label, expected in gx_unexpected.items()
                   if expected is not None and counts.unexpected_by_expectation.get(label) != expected}
    if differences:
        detail = ", ".join(f"{label}: routed {got} vs GE {want}" for label, (got, want) in differences.items())
        raise RoutingError(f"quarantine routing disagrees with Great Expectations ({detail}); nothing routed")
