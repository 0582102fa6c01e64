"""Schema checks before any row check: the DataFrame handed to the gate against its contract.

- a required contract column that is missing, or any contract column with another type → `fail`
  (the bronze parser already quarantines values that do not parse; a wrong type here means the
  job itself drifted);
- an optional contract column that is missing → `warn`;
- a column the contract does not know → the contract's `drift.new_columns`: `keep` (warn, kept),
  `quarantine` (warn, withheld from promotion), `fail`.
Lineage (`_run_id`, ...) and partition (`year`/`month`/`day`) columns are expected, typed extras.
PII policies are taken into account: `tokenize`/`mask` give strings and `drop` removes the column.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T

from jobs.contracts import Contract
from jobs.quality.suites import FAIL, WARN

KNOWN_EXTRA_COLUMNS: dict[str, T.DataType] = {
    "_run_id": T.StringType(),
    "_source_file": T.StringType(),
    "_ingest_date": T.DateType(),
    "_processed_at": T.TimestampType(),
    "year": T.StringType(),
    "month": T.StringType(),
    "day": T.StringType(),
}


@dataclass(frozen=True)
class SchemaIssue:
    check: str  # missing_column | type_change | unexpected_column
    column: str
    severity: str  # warn | fail
    message: str
    withheld: bool = False  # the column is not promoted (drift policy `quarantine`)

    @property
    def label(self) -> str:
        return f"schema:{self.check}({self.column})"


def expected_type(contract: Contract, column: str) -> T.DataType:
    spec = contract.column(column)
    if spec.pii is not None and spec.pii.action in ("tokenize", "mask"):
        return T.StringType()
    return spec.spark_type


def check_schema(schema: T.StructType, contract: Contract) -> list[SchemaIssue]:
    actual = {f.name: f.dataType for f in schema.fields}
    issues: list[SchemaIssue] = []
    where = f"dataset {contract.name} (contract {contract.source or contract.name})"
    for spec in contract.columns:
        dropped = spec.pii is not None and spec.pii.action == "drop"
        if spec.name not in actual:
            if dropped:
                continue
            severity = FAIL if spec.required else WARN
            kind = "required" if spec.required else "optional"
            issues.append(SchemaIssue("missing_column", spec.name, severity,
                                      f"{where}: {kind} column {spec.name!r} is missing"))
            continue
        wanted = expected_type(contract, spec.name)
        if actual[spec.name] != wanted:
            issues.append(SchemaIssue(
                "type_change", spec.name, FAIL,
                f"{where}: column {spec.name!r} is {actual[spec.name].simpleString()}, "
                f"the contract says {wanted.simpleString()}"))
    for name, data_type in actual.items():
        if name in contract.column_names:
            continue
        if name in KNOWN_EXTRA_COLUMNS:
            if data_type != KNOWN_EXTRA_COLUMNS[name]:
                issues.append(SchemaIssue(
                    "type_change", name, FAIL,
                    f"{where}: lineage/partition column {name!r} is {data_type.simpleString()}, "
                    f"expected {KNOWN_EXTRA_COLUMNS[name].simpleString()}"))
            continue
        policy = contract.new_columns
        action = {"keep": "kept", "quarantine": "withheld from promotion", "fail": "refused"}[policy]
        issues.append(SchemaIssue(
            "unexpected_column", name, FAIL if policy == "fail" else WARN,
            f"{where}: column {name!r} ({data_type.simpleString()}) is not in the contract; "
            f"drift.new_columns={policy}: {action}", withheld=policy == "quarantine"))
    return issues
