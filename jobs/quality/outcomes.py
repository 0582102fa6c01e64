"""Reading Great Expectations' verdicts through the suite's severities.

Each unsuccessful expectation becomes an `ExpectationFailure` with its effective severity:
a `quarantine` expectation stays `quarantine` (its rows are routed) unless GE could not evaluate it
or its `mostly` threshold was breached, in which case it escalates to `fail`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult

from jobs.quality.schema_check import SchemaIssue
from jobs.quality.suites import FAIL, QUARANTINE, QualitySuite, SuiteExpectation

MAX_SAMPLE_CHARS = 60


@dataclass(frozen=True)
class ExpectationFailure:
    """One failed check: what, where, how many and which values (for alerts and manifests)."""

    suite: str
    expectation: str  # label, e.g. expect_column_values_to_be_in_set(channel) or schema:missing_column(x)
    severity: str  # effective severity: warn | quarantine | fail
    column: str | None = None
    unexpected_count: int | None = None
    element_count: int | None = None
    sample: list[Any] = field(default_factory=list)
    detail: str = ""

    def describe(self) -> str:
        parts = [f"{self.suite}: {self.expectation} [{self.severity}]"]
        if self.unexpected_count is not None:
            of = f" of {self.element_count:,} rows" if self.element_count is not None else ""
            share = (f" ({100 * self.unexpected_count / self.element_count:.2f}%)"
                     if self.element_count else "")
            parts.append(f"{self.unexpected_count:,} unexpected{of}{share}")
        if self.detail:
            parts.append(self.detail)
        if self.sample:
            parts.append("sample: " + ", ".join(_short(v) for v in self.sample))
        return "; ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"suite": self.suite, "expectation": self.expectation, "severity": self.severity,
                "column": self.column, "unexpected_count": self.unexpected_count,
                "element_count": self.element_count, "sample": [_short(v) for v in self.sample],
                "detail": self.detail}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SAMPLE_CHARS else text[: MAX_SAMPLE_CHARS - 3] + "..."


def _plain(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else repr(value)


def _observed_detail(result: ExpectationValidationResult) -> str:
    kwargs = result.expectation_config.kwargs if result.expectation_config else {}
    observed = (result.result or {}).get("observed_value")
    bounds = {k: kwargs[k] for k in ("min_value", "max_value", "value") if kwargs.get(k) is not None}
    text = f"observed {observed!r}" if observed is not None else ""
    if bounds:
        text += (", " if text else "") + "expected " + ", ".join(f"{k}={_plain(v)}" for k, v in bounds.items())
    return text


def _sample(result: ExpectationValidationResult, sample_size: int) -> list[Any]:
    body = result.result or {}
    if "partial_unexpected_list" in body:
        return list(body["partial_unexpected_list"])[:sample_size]
    rows = (body.get("details") or {}).get("unexpected_rows")  # query expectations
    return list(rows or [])[:sample_size]


def is_escalated(expectation: SuiteExpectation, result: ExpectationValidationResult) -> bool:
    """A quarantine expectation that must stop the run instead of routing rows."""
    if expectation.severity != QUARANTINE or result.success:
        return False
    if result.exception_info.get("raised_exception"):
        return True
    mostly = (result.expectation_config.kwargs if result.expectation_config else {}).get("mostly")
    return mostly is not None and float(mostly) < 1.0


def effective_severity(expectation: SuiteExpectation, result: ExpectationValidationResult) -> str:
    return FAIL if is_escalated(expectation, result) else expectation.severity


def failure_from_result(suite: QualitySuite, expectation: SuiteExpectation, result: ExpectationValidationResult,
                        sample_size: int, withhold_sample: bool = False) -> ExpectationFailure:
    body = result.result or {}
    severity = effective_severity(expectation, result)
    exception = result.exception_info or {}
    if exception.get("raised_exception"):
        detail = f"could not be evaluated: {str(exception.get('exception_message')).splitlines()[0]}"
    else:
        detail = _observed_detail(result)
    if severity != expectation.severity and not exception.get("raised_exception"):
        mostly = result.expectation_config.kwargs.get("mostly")
        detail = (detail + "; " if detail else "") + (
            f"more than {100 * (1 - float(mostly)):.2f}% of rows failed (mostly={mostly}): escalated to fail")
    unexpected = body.get("unexpected_count")
    if unexpected is None and "unexpected_rows_query" in (result.expectation_config.kwargs or {}):
        unexpected = body.get("observed_value")
    sample = [] if withhold_sample else _sample(result, sample_size)
    if withhold_sample and unexpected:
        detail = (detail + "; " if detail else "") + "sample withheld (PII column)"
    columns = expectation.columns
    return ExpectationFailure(
        suite=suite.name, expectation=expectation.label, severity=severity,
        column=columns[0] if len(columns) == 1 else (",".join(columns) or None),
        unexpected_count=unexpected, element_count=body.get("element_count"), sample=sample, detail=detail)


def results_by_id(result: ExpectationSuiteValidationResult) -> dict[str, ExpectationValidationResult]:
    return {str(r.expectation_config.id): r for r in result.results if r.expectation_config is not None}


def schema_failure(suite: QualitySuite, issue: SchemaIssue) -> ExpectationFailure:
    return ExpectationFailure(suite=suite.name, expectation=issue.label, severity=issue.severity,
                              column=issue.column, detail=issue.message)
