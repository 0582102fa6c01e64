"""The quality gate: schema checks, one Great Expectations validation, severities, routing, records.

    result = run_quality_gate(spark, df, suite="transactions", layer="silver", contract=contract,
                              run_date="2024-03-01", run_id=run_id, ops_root=layout.ops,
                              context={"previous_row_count": 98_000, "known_customer_ids": ids_df})
    raise_if_failed(result)              # QualityGateFailed names suite, expectation, count, sample
    publish(result.valid); quarantine(result.quarantined); manifest["quality"] = result.summary
    result.release()                     # unpersist what the gate cached, after the writes

Passes over the data for a clean partition: the DataFrame is cached once (unless it already is, or
the caller says it is cheap to recompute: `persist=False`) and GE validates every expectation with
verdicts only, bundling the aggregate metrics into a few Spark jobs; that is all. Only when
something failed: GE re-runs the failed expectations for counts (and a sample of failing values for
`warn`/`fail`), and one aggregate pass counts the quarantined rows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.validator.validation_statistics import calc_validation_statistics
from pyspark.sql import DataFrame, SparkSession

from jobs.batch_cache import SMALL_BATCH_ROWS, PinnedFrames
from jobs.contracts import Contract
from jobs.quality import gx_runtime, store
from jobs.quality.data_docs import build_data_docs, default_site_root
from jobs.quality.local_rows import rows_as_pandas
from jobs.quality.outcomes import (
    ExpectationFailure,
    effective_severity,
    failure_from_result,
    results_by_id,
    schema_failure,
)
from jobs.quality.parameters import runtime_parameters
from jobs.quality.routing import count_routed, row_checks, split_rows, verify_against_gx
from jobs.quality.schema_check import SchemaIssue, check_schema
from jobs.quality.suites import FAIL, QUARANTINE, WARN, QualitySuite, SuiteExpectation, load_suite

DEFAULT_SAMPLE_SIZE = 5
# Query expectations read temporary views, which are named per session, not per gate: the context's
# (e.g. `known_customer_ids`) and GE's own `tmp_view` for the batch. Two gates validating at once in
# one session (a wave's datasets or parallel backfill dates, run locally) would read each other's
# batch, so query expectations take turns; every other expectation validates side by side.
_session_views = threading.Lock()
# Rows up to which a batch is validated on its collected rows (GE's pandas engine) rather than on Spark:
# collecting costs ~30 µs a row in the driver, a Spark-side suite a second or two whatever its rows
# (100,000 rows: 4.8 s collected against 1.0 s on Spark, `make bench` on 2026-12-04).
COLLECTED_ROWS_LIMIT = 20_000
MAX_MESSAGE_CHARS = 4000  # a Step Functions error cause is capped; keep the alert readable


class QualityGateFailed(Exception):
    """`fail`-severity failures: the partition must not be published. The message names the suite,
    each failing expectation, its unexpected count and a sample of failing values."""

    def __init__(self, suite: str, failures: list[ExpectationFailure], result_path: str | None = None):
        self.suite = suite
        self.failures = failures
        self.result_path = result_path
        lines = [f"quality gate failed: suite {suite}: {len(failures)} fail-severity failure(s)"]
        lines += [f"- {f.describe()}" for f in failures]
        if result_path:
            lines.append(f"validation result: {result_path}")
        message = "\n".join(lines)
        super().__init__(message if len(message) <= MAX_MESSAGE_CHARS else message[: MAX_MESSAGE_CHARS - 3] + "...")


@dataclass
class GateResult:
    valid: DataFrame  # rows to promote (columns withheld by the drift policy removed)
    quarantined: DataFrame  # input columns + `_quarantine_reason` (first) + `_quarantine_reasons` (all)
    failed: list[ExpectationFailure]  # fail severity (including escalated quarantine and schema failures)
    warnings: list[ExpectationFailure]
    routed: list[ExpectationFailure]  # quarantine expectations that routed rows
    summary: dict[str, Any]  # for the run manifest
    validation_result: ExpectationSuiteValidationResult | None = None
    _pinned: PinnedFrames | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return not self.failed

    def release(self) -> None:
        """Release the input if the gate pinned it (call after writing valid/quarantined)."""
        if self._pinned is not None:
            self._pinned.release()
            self._pinned = None


def raise_if_failed(result: GateResult) -> None:
    if result.failed:
        raise QualityGateFailed(result.summary["suite"], result.failed, result.summary.get("result_path"))


def _pii_columns(contract: Contract | None) -> set[str]:
    if contract is None:
        return set()
    return {c.name for c in contract.columns if c.pii is not None}


def _context_views(context: dict[str, Any]) -> dict[str, DataFrame]:
    """The context's DataFrames: temporary views, by their key, that query expectations can join."""
    views = {name: value for name, value in context.items() if isinstance(value, DataFrame)}
    for name in views:
        if not name.isidentifier():
            raise ValueError(f"context key {name!r} must be an identifier to serve as a view name")
    return views


def _register_views(views: dict[str, DataFrame]) -> list[str]:
    for name, frame in views.items():
        frame.createOrReplaceTempView(name)
    return list(views)


@dataclass
class _Validation:
    """What GE said, read through the suite's severities."""

    result: ExpectationSuiteValidationResult
    failed: list[ExpectationFailure]
    warnings: list[ExpectationFailure]
    routed: list[tuple[SuiteExpectation, ExpectationFailure]]


def _validate(df: DataFrame | pd.DataFrame, suite: QualitySuite, runnable: list[SuiteExpectation], asset: str,
              parameters: dict[str, Any], sample_size: int, pii_columns: set[str]) -> _Validation:
    """Pass 1: every expectation, verdicts only (GE bundles the aggregates into a few Spark jobs).
    Pass 2, only if something failed: the failed expectations again with counts, and with GE's own
    sample of failing values for `warn`/`fail` ones (never for PII columns, never for quarantine:
    those rows are in the quarantine table)."""
    result = gx_runtime.validate(df, suite.to_gx_suite(runnable), asset, parameters, gx_runtime.VERDICTS_ONLY)
    by_id = results_by_id(result)
    unsuccessful = [e for e in runnable if e.id in by_id and not by_id[e.id].success]
    sampled = [e for e in unsuccessful if sample_size > 0 and not set(e.columns) & pii_columns
               and effective_severity(e, by_id[e.id]) != QUARANTINE]
    # With `mostly` < 1 a quarantine expectation can succeed and still have rows to route.
    tolerant = [e for e in runnable if e.severity == QUARANTINE and e.id in by_id and by_id[e.id].success
                and float(e.config.kwargs.get("mostly", 1.0)) < 1.0]
    counted = [e for e in unsuccessful if e not in sampled] + tolerant
    groups = (([e for e in sampled if not e.is_query], gx_runtime.with_counts(sample_size)),
              ([e for e in sampled if e.is_query], gx_runtime.QUERY_ROWS),
              (counted, gx_runtime.with_counts(0)))
    for group, result_format in groups:
        if group:
            detailed = gx_runtime.validate(df, suite.to_gx_suite(group), asset, parameters, result_format)
            by_id.update(results_by_id(detailed))
    result.results = [by_id.get(str(r.expectation_config.id), r) for r in result.results]
    failed, warnings, routed = [], [], []
    for expectation in unsuccessful + tolerant:
        if by_id[expectation.id].success and not (by_id[expectation.id].result or {}).get("unexpected_count"):
            continue
        failure = failure_from_result(suite, expectation, by_id[expectation.id], sample_size,
                                      withhold_sample=bool(set(expectation.columns) & pii_columns))
        if failure.severity == FAIL:
            failed.append(failure)
        elif failure.severity == WARN:
            warnings.append(failure)
        else:
            routed.append((expectation, failure))
    return _Validation(result, failed, warnings, routed)


def _validate_in_turns(df: DataFrame, suite: QualitySuite, runnable: list[SuiteExpectation], asset: str,
                       parameters: dict[str, Any], sample_size: int, pii_columns: set[str],
                       views: dict[str, DataFrame], small_batch: bool, on_rows: bool) -> _Validation:
    """`_validate`, with the query expectations on their own and in turn with other gates' (they read
    session-wide temporary views, see `_session_views`). Their views are pinned while they run: a
    query expectation scans them twice (GE counts its rows, then fetches them).

    With `on_rows` the other expectations validate on the batch's rows collected once, on GE's pandas
    engine (jobs/quality/local_rows.py); query expectations are SQL and stay on Spark."""
    plain = [e for e in runnable if not e.is_query]
    queries = [e for e in runnable if e.is_query]
    parts = []
    if plain or not queries:
        batch = rows_as_pandas(df) if on_rows else df
        parts.append(_validate(batch, suite, plain, asset, parameters, sample_size, pii_columns))
    if queries:
        pins = PinnedFrames(small_batch)
        try:
            with _session_views:
                names = _register_views({name: pins.pin(frame) for name, frame in views.items()})
                try:
                    parts.append(_validate(df, suite, queries, asset, parameters, sample_size, pii_columns))
                finally:
                    for name in names:
                        df.sparkSession.catalog.dropTempView(name)
        finally:
            pins.release()
    return _merged(runnable, parts)


def _merged(runnable: list[SuiteExpectation], parts: list[_Validation]) -> _Validation:
    """One validation result of the suite's order from results validated in parts."""
    if len(parts) == 1:
        return parts[0]
    by_id: dict[str, Any] = {}
    for part in parts:
        by_id.update(results_by_id(part.result))
    results = [by_id[e.id] for e in runnable if e.id in by_id]
    statistics = calc_validation_statistics(results)
    first = parts[0].result
    result = ExpectationSuiteValidationResult(
        success=statistics.success, results=results, suite_name=first.suite_name, meta=first.meta,
        batch_id=first.batch_id,
        statistics={"evaluated_expectations": statistics.evaluated_expectations,
                    "successful_expectations": statistics.successful_expectations,
                    "unsuccessful_expectations": statistics.unsuccessful_expectations,
                    "success_percent": statistics.success_percent})
    order = {e.label: index for index, e in enumerate(runnable)}
    failed = sorted((f for part in parts for f in part.failed), key=lambda f: order.get(f.expectation, len(order)))
    warnings = sorted((f for part in parts for f in part.warnings), key=lambda f: order.get(f.expectation, len(order)))
    return _Validation(result, failed, warnings, [routed for part in parts for routed in part.routed])


def _summary(suite: QualitySuite, run_id: str, run_date: str, evaluated: int, unsuccessful: int,
             failed: list[ExpectationFailure], warnings: list[ExpectationFailure], quarantined_rows: int,
             by_reason: dict[str, int], skipped: list[SuiteExpectation],
             schema_issues: list[SchemaIssue], withheld: list[str]) -> dict[str, Any]:
    return {
        "suite": suite.name, "layer": suite.layer, "dataset": suite.dataset,
        "run_id": run_id, "run_date": run_date,
        "status": "failed" if failed else "passed",
        "evaluated": evaluated, "failed": unsuccessful,
        "fail": [f.expectation for f in failed], "warnings": [f.expectation for f in warnings],
        "quarantined_rows": quarantined_rows, "quarantined_by_reason": dict(sorted(by_reason.items())),
        "skipped": [{"expectation": e.label, "requires": list(e.requires)} for e in skipped],
        "schema_issues": [{"check": i.check, "column": i.column, "severity": i.severity, "message": i.message}
                          for i in schema_issues],
        "withheld_columns": withheld,
    }


def _schema_only_result(suite: QualitySuite) -> ExpectationSuiteValidationResult:
    """A GE result with no expectation evaluated: the schema check stopped the gate first."""
    return ExpectationSuiteValidationResult(
        success=False, results=[], suite_name=suite.name,
        statistics={"evaluated_expectations": 0, "successful_expectations": 0,
                    "unsuccessful_expectations": 0, "success_percent": None})


def _record(result: ExpectationSuiteValidationResult, summary: dict[str, Any], failures: dict[str, list],
            ops_root: str, docs_root: str | None, build_docs: bool, now: datetime,
            suites_directory: Path | None) -> dict[str, Any]:
    """Persist the result with the run, then render it into Data Docs; fills in where both are."""
    run_time = now.astimezone(UTC)
    result.meta["run_id"] = RunIdentifier(run_name=summary["run_id"], run_time=run_time)
    result.meta["validation_time"] = run_time
    path = store.result_path(ops_root, summary["layer"], summary["dataset"], summary["run_date"], summary["run_id"])
    summary["result_path"] = path
    summary["docs_path"] = (docs_root or default_site_root(ops_root)).rstrip("/") + "/index.html"
    document = result.to_json_dict()
    document["meta"][store.GATE_META_KEY] = {
        "layer": summary["layer"], "dataset": summary["dataset"], "run_id": summary["run_id"],
        "run_date": summary["run_date"], "gate_status": summary["status"], "summary": summary,
        **{kind: [f.as_dict() for f in items] for kind, items in failures.items()},
    }
    store.save_result(path, document)
    if build_docs:
        summary["docs_path"] = build_data_docs(ops_root, docs_root, render=[document],
                                               suites_directory=suites_directory)
    return document


def run_quality_gate(spark: SparkSession, df: DataFrame, *, suite: str, layer: str, contract: Contract | None,
                     run_date: str, run_id: str, ops_root: str, context: dict[str, Any] | None = None,
                     docs_root: str | None = None, build_docs: bool = True,
                     sample_size: int = DEFAULT_SAMPLE_SIZE, suites_directory: Path | None = None,
                     now: datetime | None = None, persist: bool = True,
                     small_batch: bool | None = False, rows: int | None = None) -> GateResult:
    """Validate one partition's DataFrame with the `<layer>/<suite>` suite and split it by severity.

    `context` carries what some expectations need: scalars become `$PARAMETER`s (e.g.
    `previous_row_count`), DataFrames become temporary views (e.g. `known_customer_ids`).
    Expectations whose context is missing are skipped and listed in the summary. The gate never
    raises for data problems: call `raise_if_failed(result)`.

    `persist=False` validates `df` as given, without caching it first: for a caller whose `df` is a
    cheap projection of a frame it has already persisted (each GE job then reads only the columns
    it needs from that cache, instead of the gate building a second, wider cache of every column).
    A `small_batch` is checkpointed instead of cached (jobs/batch_cache.py). `rows`, when the caller
    knows them: up to `COLLECTED_ROWS_LIMIT`, the rows are collected once and validated on Great
    Expectations' pandas engine (query expectations stay on Spark). `small_batch=None`: the caller
    knows neither; the gate caches `df` and counts it.
    """
    del spark  # the DataFrame's own session is used; the parameter keeps job call sites uniform
    now = now or datetime.now(UTC)
    context = dict(context or {})
    quality_suite = load_suite(layer, suite, suites_directory)
    pii_columns = _pii_columns(contract)
    schema_issues = check_schema(df.schema, contract) if contract is not None else []
    schema_failures = [schema_failure(quality_suite, i) for i in schema_issues]
    withheld = [i.column for i in schema_issues if i.withheld]
    promoted_columns = [c for c in df.columns if c not in withheld]
    schema_fail = [f for f in schema_failures if f.severity == FAIL]
    schema_warn = [f for f in schema_failures if f.severity == WARN]

    if schema_fail:
        summary = _summary(quality_suite, run_id, run_date, 0, 0, schema_fail, schema_warn, 0, {}, [],
                           schema_issues, withheld)
        result = _schema_only_result(quality_suite)
        _record(result, summary, {"fail_detail": schema_fail, "warn_detail": schema_warn},
                ops_root, docs_root, build_docs, now, suites_directory)
        valid, quarantined = split_rows(df, [], promoted_columns)
        return GateResult(valid, quarantined, schema_fail, schema_warn, [], summary, result)

    pinned = None
    if persist and not df.is_cached:
        pinned = PinnedFrames(bool(small_batch))
        df = pinned.pin(df)
    if small_batch is None:
        rows = df.count()
        small_batch = rows <= SMALL_BATCH_ROWS
    on_rows = rows is not None and rows <= COLLECTED_ROWS_LIMIT
    views = _context_views(context)
    parameters = runtime_parameters(run_date, quality_suite.derived_parameters, context, now)
    runnable, skipped = quality_suite.runnable(set(parameters) | set(views))
    asset = f"{layer}_{quality_suite.dataset}"
    outcome = _validate_in_turns(df, quality_suite, runnable, asset, parameters, sample_size, pii_columns, views,
                                 small_batch, on_rows)
    failed = schema_fail + outcome.failed
    warnings = schema_warn + outcome.warnings
    to_route = [e for e, _ in outcome.routed]
    checks = row_checks(gx_runtime.metric_validator(df, asset), to_route, parameters) if to_route else []
    quarantined_rows, by_reason = 0, {}
    if checks and not failed:
        counts = count_routed(df, checks)
        verify_against_gx(counts, {e.label: f.unexpected_count for e, f in outcome.routed})
        quarantined_rows, by_reason = counts.quarantined_rows, counts.by_primary_reason
    valid, quarantined = split_rows(df, checks, promoted_columns)

    stats = outcome.result.statistics
    summary = _summary(quality_suite, run_id, run_date, int(stats["evaluated_expectations"]),
                       int(stats["unsuccessful_expectations"]), failed, warnings, quarantined_rows, by_reason,
                       skipped, schema_issues, withheld)
    routed = [f for _, f in outcome.routed]
    _record(outcome.result, summary, {"fail_detail": failed, "warn_detail": warnings, "quarantine_detail": routed},
            ops_root, docs_root, build_docs, now, suites_directory)
    return GateResult(valid, quarantined, failed, warnings, routed, summary, outcome.result, pinned)
