"""Expectation suites as data: `expectations/<layer>/<dataset>.json`, Great Expectations 1.x format.

Every expectation carries `meta.severity`:
- `warn`: recorded, the run continues, rows are kept;
- `quarantine`: row-level only (map expectations); the rows Great Expectations counts as unexpected
  are routed to quarantine, the rest promoted. With `mostly` < 1, a result that GE judges failed
  (too many bad rows) escalates to `fail`;
- `fail`: the partition is not published and the run alerts.

An expectation is named by its type and column(s), e.g. `expect_column_values_to_be_in_set(channel)`,
or by `meta.label` (needed to tell apart two table-level expectations of one type).
Expectations that need run context declare it in `meta.requires` (scalar context values become
`$PARAMETER`s, DataFrames become temporary views for query expectations); without it they are
skipped and listed as skipped. A silver suite names its contract (`meta.contract`) and states only what
the contract does not (see `suite_sources`); vocabularies come by name (`{"$CONSTANT": ...}`).
The loader is strict: a bad suite fails at load time naming the file
and the expectation, never halfway through a nightly run (GE itself would only log and drop it).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.core.suite_parameters import SuiteParameterParser
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration
from great_expectations.expectations.metadata_types import FailureSeverity

from jobs.quality.parameters import STANDARD_PARAMETERS, validate_derived_parameters
from jobs.quality.suite_sources import resolve_constants, with_contract

WARN, QUARANTINE, FAIL = "warn", "quarantine", "fail"
SEVERITIES = (WARN, QUARANTINE, FAIL)
LAYERS = ("silver", "gold")
# GE 1.x has its own three-level severity; keep it in step so GE's own views rank failures alike.
GX_SEVERITY = {FAIL: FailureSeverity.CRITICAL, QUARANTINE: FailureSeverity.WARNING, WARN: FailureSeverity.INFO}
_ID_NAMESPACE = uuid.UUID("5b0f3c8e-6a57-4f8e-9d55-0c1a3c1d7e21")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PARSER_WORDS = {*SuiteParameterParser.fn, "E", "PI", "e", "pi"}


class SuiteError(ValueError):
    """A suite file is invalid; the message names the file and the expectation."""


@dataclass(frozen=True)
class SuiteExpectation:
    """One expectation of a suite with the gate's view of it."""

    label: str  # e.g. expect_column_values_to_be_in_set(channel); unique within the suite
    severity: str
    config: ExpectationConfiguration
    requires: tuple[str, ...] = ()
    row_level: bool = False  # a map expectation: GE decides per row

    @property
    def id(self) -> str:
        return str(self.config.id)

    @property
    def reason(self) -> str:
        """The quarantine reason written next to each routed row."""
        return f"expectation:{self.label}"

    @property
    def is_query(self) -> bool:
        """A query expectation: its unexpected rows come from SQL, not a per-row condition."""
        return "unexpected_rows_query" in self.config.kwargs

    @property
    def columns(self) -> tuple[str, ...]:
        kwargs = self.config.kwargs
        if "column" in kwargs:
            return (kwargs["column"],)
        if "column_A" in kwargs:
            return (kwargs["column_A"], kwargs["column_B"])
        return tuple(kwargs.get("column_list") or ())


@dataclass(frozen=True)
class QualitySuite:
    name: str  # "<layer>.<dataset>", e.g. silver.transactions
    layer: str
    dataset: str
    expectations: tuple[SuiteExpectation, ...]
    derived_parameters: dict[str, dict[str, int]] = field(default_factory=dict)
    source: str = ""

    def by_id(self, expectation_id: str) -> SuiteExpectation:
        for expectation in self.expectations:
            if expectation.id == expectation_id:
                return expectation
        raise KeyError(f"suite {self.name}: no expectation with id {expectation_id}")

    def runnable(self, available: set[str]) -> tuple[list[SuiteExpectation], list[SuiteExpectation]]:
        """(expectations whose context is available, expectations skipped for lack of it)."""
        run = [e for e in self.expectations if set(e.requires) <= available]
        skipped = [e for e in self.expectations if not set(e.requires) <= available]
        return run, skipped

    def to_gx_suite(self, expectations: list[SuiteExpectation] | None = None) -> ExpectationSuite:
        chosen = self.expectations if expectations is None else expectations
        return ExpectationSuite(name=self.name, expectations=[e.config for e in chosen],
                                meta={"layer": self.layer, "dataset": self.dataset})


def expectation_label(type_name: str, kwargs: dict[str, Any]) -> str:
    if "column" in kwargs:
        return f"{type_name}({kwargs['column']})"
    if "column_A" in kwargs:
        return f"{type_name}({kwargs['column_A']},{kwargs['column_B']})"
    if "column_list" in kwargs:
        return f"{type_name}({','.join(kwargs['column_list'])})"
    return type_name


def parameter_names(value: Any) -> set[str]:
    """Variables referenced by `$PARAMETER` expressions anywhere in an expectation's kwargs."""
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            words = set(_IDENTIFIER.findall(str(value["$PARAMETER"])))
            return words - _PARSER_WORDS
        return set().union(*(parameter_names(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(parameter_names(v) for v in value)) if value else set()
    return set()


def _is_row_level(config: ExpectationConfiguration) -> bool:
    implementation = config._get_expectation_impl()
    return bool(getattr(implementation, "map_metric", None))


def _expectation(raw: Any, index: int, suite_name: str, known_parameters: set[str],
                 where: str) -> SuiteExpectation:
    at = f"{where}: expectations[{index}]"
    if not isinstance(raw, dict) or "type" not in raw or not isinstance(raw.get("kwargs"), dict):
        raise SuiteError(f"{at}: each expectation needs 'type' and 'kwargs'")
    meta = dict(raw.get("meta") or {})
    severity = meta.get("severity")
    label = str(meta.get("label") or expectation_label(raw["type"], raw["kwargs"]))
    at = f"{at} {label}"
    if severity not in SEVERITIES:
        raise SuiteError(f"{at}: meta.severity must be one of {SEVERITIES}, got {severity!r}")
    requires = tuple(meta.get("requires") or ())
    unknown = parameter_names(raw["kwargs"]) - known_parameters - set(requires)
    if unknown:
        raise SuiteError(f"{at}: $PARAMETER uses {sorted(unknown)}, which is neither a standard parameter "
                         f"({sorted(known_parameters)}) nor listed in meta.requires")
    try:
        config = ExpectationConfiguration(
            type=raw["type"], kwargs=dict(raw["kwargs"]), meta=meta, notes=raw.get("notes"),
            severity=GX_SEVERITY[severity], id=str(uuid.uuid5(_ID_NAMESPACE, f"{suite_name}:{label}")))
        config.to_domain_obj()  # GE validates the kwargs here; a bad one would otherwise be dropped
        row_level = _is_row_level(config)
    except Exception as exc:  # GE raises several unrelated types for a bad configuration
        raise SuiteError(f"{at}: not a valid Great Expectations expectation: {exc}") from None
    if severity == QUARANTINE:
        if not row_level:
            raise SuiteError(f"{at}: severity 'quarantine' needs a row-level (map) expectation; "
                             "use 'warn' or 'fail' for table-level checks")
        if raw["kwargs"].get("row_condition"):
            raise SuiteError(f"{at}: quarantine expectations cannot use row_condition "
                             "(rows outside the condition could not be routed exactly)")
    return SuiteExpectation(label=label, severity=severity, config=config, requires=requires,
                            row_level=row_level)


def _expectations_from_sources(document: dict[str, Any], source: str) -> list[Any]:
    """The file's expectations with its contract's derived ones first and named vocabularies filled in."""
    try:
        expectations = resolve_constants(document["expectations"], source)
        contract = (document.get("meta") or {}).get("contract")
        return with_contract(expectations, contract, source) if contract else expectations
    except ValueError as exc:
        raise SuiteError(str(exc)) from None


def parse_suite(document: Any, layer: str, dataset: str, source: str) -> QualitySuite:
    if not isinstance(document, dict) or not isinstance(document.get("expectations"), list):
        raise SuiteError(f"{source}: a suite is a mapping with an 'expectations' list")
    name = f"{layer}.{dataset}"
    if document.get("name") != name:
        raise SuiteError(f"{source}: name must be {name!r} (layer.dataset), got {document.get('name')!r}")
    derived = dict((document.get("meta") or {}).get("parameters") or {})
    try:
        validate_derived_parameters(derived)
    except ValueError as exc:
        raise SuiteError(f"{source}: meta.parameters: {exc}") from None
    known = set(STANDARD_PARAMETERS) | set(derived)
    expectations = tuple(_expectation(raw, i, name, known, source)
                         for i, raw in enumerate(_expectations_from_sources(document, source)))
    labels = [e.label for e in expectations]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise SuiteError(f"{source}: expectations must be distinct per type and column(s): {duplicates}")
    return QualitySuite(name=name, layer=layer, dataset=dataset, expectations=expectations,
                        derived_parameters=derived, source=source)


def suites_dir() -> Path:
    """Suites ship inside the package (the Glue wheel carries them); override for tests."""
    override = os.environ.get("LAKEHOUSE_EXPECTATIONS_DIR")
    if override:
        return Path(override)
    return Path(str(resources.files("expectations")))


def suite_path(layer: str, dataset: str, directory: Path | None = None) -> Path:
    return (directory or suites_dir()) / layer / f"{dataset}.json"


def load_suite(layer: str, dataset: str, directory: Path | None = None) -> QualitySuite:
    if layer not in LAYERS:
        raise SuiteError(f"unknown layer {layer!r} (use one of {LAYERS})")
    path = suite_path(layer, dataset, directory)
    if not path.exists():
        known = ", ".join(list_suites(directory).get(layer, [])) or "none"
        raise SuiteError(f"no {layer} suite {dataset!r} at {path} (known: {known})")
    try:
        document = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: invalid JSON: {exc}") from None
    return parse_suite(document, layer, dataset, str(path))


def list_suites(directory: Path | None = None) -> dict[str, list[str]]:
    root = directory or suites_dir()
    return {layer: sorted(p.stem for p in (root / layer).glob("*.json")) for layer in LAYERS}
