"""Structured-column PII policies from the contract, as native Spark expressions (no Python UDF).

| action     | options                         | result (column keeps its name)                      |
|------------|---------------------------------|-----------------------------------------------------|
| tokenize   | normalize: text|email|phone|... | `tok_` + 32 hex of HMAC-SHA256(key, normalised)     |
| mask       | keep_last: N (default 4)        | `************1234` (spaces/dashes removed first)    |
| generalize | to: year|month (date/timestamp) | same type, truncated to the first day of the period |
| generalize | keep_first: N (string)          | the first N characters, e.g. a postal-code prefix   |
| drop       |                                 | column removed                                      |
| redact     |                                 | untouched here: free text goes to `redaction`       |

Nulls stay null; a value that normalises to an empty string becomes null rather than a token that
would link every blank together.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import ColumnSpec, Contract
from jobs.pii.tokens import (
    NORMALIZATIONS,
    blank_to_null,
    default_normalization,
    protect_plan_literals,
    replace_characters,
    token_expr,
)

STRUCTURED_ACTIONS = ("tokenize", "mask", "generalize", "drop")
DEFAULT_KEEP_LAST = 4
MASK_CHAR = "*"
GENERALIZE_PERIODS = ("year", "month")
_ALLOWED_OPTIONS: dict[str, set[str]] = {
    "tokenize": {"normalize"},
    "mask": {"keep_last"},
    "generalize": {"to", "keep_first"},
    "drop": set(),
    "redact": set(),
}


class PiiPolicyError(ValueError):
    """A column's pii policy cannot be applied; the message names the contract and column."""


def _non_negative_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise PiiPolicyError(f"{where} must be a non-negative integer, got {value!r}")
    return value


def masked_column(column: Column, keep_last: int) -> Column:
    """Keep the last `keep_last` characters after removing spaces and dashes; mask the rest.

    A value no longer than `keep_last` is masked entirely, so a short value is never shown whole.
    Built from replace/substring/lpad: code-generated, no regex and no translate (which looks every
    character up in a map), as this runs on every row.
    """
    compact = replace_characters(column.cast("string"), " \t-", "")
    length = F.length(compact)
    # How many characters stay visible (keep_last, or none for a short value), as arithmetic: a CASE
    # would stop Spark from computing `compact` once for all its uses.
    visible = F.least(F.greatest(length - keep_last, F.lit(0)), F.lit(1)) * keep_last
    shown = compact.substr(length - visible + 1, visible) if keep_last > 0 else F.lit("")
    return blank_to_null(F.call_function("lpad", shown, length, F.lit(MASK_CHAR)))


def generalized_column(column: Column, data_type: T.DataType, options: dict[str, Any], where: str) -> Column:
    """Dates/timestamps truncated to the period start (type kept); strings cut to a prefix."""
    if "to" in options:
        period = options["to"]
        if isinstance(data_type, T.DateType):
            return F.trunc(column, period)
        if isinstance(data_type, T.TimestampType):
            return F.date_trunc(period, column)
        raise PiiPolicyError(f"{where}: generalize to {period!r} needs a date or timestamp column, "
                             f"got {data_type.simpleString()} (apply policies after typing)")
    keep_first = options["keep_first"]
    return blank_to_null(F.substring(F.trim(column.cast("string")), 1, keep_first))


def validate_column_policy(spec: ColumnSpec, contract_name: str) -> None:
    """Check a column's pii options against its action and declared type (fail at load, not at 2 am)."""
    if spec.pii is None:
        return
    where = f"contract {contract_name!r} column {spec.name!r} pii {spec.pii.action}"
    action, options = spec.pii.action, spec.pii.options
    unknown = set(options) - _ALLOWED_OPTIONS[action]
    if unknown:
        raise PiiPolicyError(f"{where}: unknown option(s) {sorted(unknown)} "
                             f"(allowed: {sorted(_ALLOWED_OPTIONS[action]) or 'none'})")
    if action == "tokenize" and options.get("normalize", "text") not in NORMALIZATIONS:
        raise PiiPolicyError(f"{where}: normalize must be one of {NORMALIZATIONS}")
    if action == "mask":
        _non_negative_int(options.get("keep_last", DEFAULT_KEEP_LAST), f"{where}: keep_last")
    if action == "generalize":
        if ("to" in options) == ("keep_first" in options):
            raise PiiPolicyError(f"{where}: give exactly one of 'to' (dates) or 'keep_first' (strings)")
        if "to" in options:
            if options["to"] not in GENERALIZE_PERIODS:
                raise PiiPolicyError(f"{where}: 'to' must be one of {GENERALIZE_PERIODS}")
            if spec.type_name not in ("date", "timestamp"):
                raise PiiPolicyError(f"{where}: 'to' needs a date or timestamp column, not {spec.type_name}")
        else:
            if spec.type_name != "string":
                raise PiiPolicyError(f"{where}: 'keep_first' needs a string column, not {spec.type_name}")
            if _non_negative_int(options["keep_first"], f"{where}: keep_first") == 0:
                raise PiiPolicyError(f"{where}: keep_first must be at least 1 (use drop to remove it)")


def validate_policies(contract: Contract) -> None:
    for spec in contract.columns:
        validate_column_policy(spec, contract.name)


def _policy_expr(df: DataFrame, spec: ColumnSpec, key: bytes, contract_name: str) -> Column:
    assert spec.pii is not None
    options = spec.pii.options
    column = F.col(spec.name)
    where = f"contract {contract_name!r} column {spec.name!r}"
    if spec.pii.action == "tokenize":
        normalization = options.get("normalize") or default_normalization(spec.name)
        return token_expr(column, key, normalization)
    if spec.pii.action == "mask":
        return masked_column(column, int(options.get("keep_last", DEFAULT_KEEP_LAST)))
    return generalized_column(column, df.schema[spec.name].dataType, options, where)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes | bytearray) or len(key) < 32:
        raise PiiPolicyError("the tokenization key must be bytes of at least 32 bytes (see jobs.pii.keys)")


def apply_column_policies(df: DataFrame, contract: Contract, key: bytes) -> DataFrame:
    """Apply every structured pii policy of `contract` in one projection; column order is kept.

    Columns without a policy, `redact` columns and columns the contract does not declare pass
    through unchanged (free text and undeclared columns are handled by `redaction`/`discovery`).
    """
    validate_policies(contract)
    declared = {spec.name: spec for spec in contract.columns if spec.pii is not None}
    structured = {name: spec for name, spec in declared.items() if spec.pii.action in STRUCTURED_ACTIONS}
    missing = [name for name, spec in structured.items()
               if spec.pii.action != "drop" and name not in df.columns]
    if missing:
        raise PiiPolicyError(f"contract {contract.name!r}: pii column(s) {missing} are not in the data")
    if any(spec.pii.action == "tokenize" for spec in structured.values()):
        _check_key(key)
        protect_plan_literals(df.sparkSession)
    projection: list[Column] = []
    for name in df.columns:
        spec = structured.get(name)
        if spec is None:
            projection.append(F.col(name))
        elif spec.pii.action != "drop":
            projection.append(_policy_expr(df, spec, bytes(key), contract.name).alias(name))
    return df.select(*projection)


def protected_schema(contract: Contract) -> T.StructType:
    """The contract's typed schema after the structured policies (what silver holds)."""
    fields = []
    for spec in contract.columns:
        action = spec.pii.action if spec.pii else None
        if action == "drop":
            continue
        data_type = T.StringType() if action in ("tokenize", "mask") else spec.spark_type
        fields.append(T.StructField(spec.name, data_type, True))
    return T.StructType(fields)


def columns_with_action(contract: Contract, action: str) -> list[str]:
    """Names of the contract's columns whose pii action is `action` (e.g. 'redact')."""
    return [spec.name for spec in contract.columns if spec.pii is not None and spec.pii.action == action]
