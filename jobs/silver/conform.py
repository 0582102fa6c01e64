"""Bronze records → typed, standardised columns, with every reason a record cannot be promoted.

Pure DataFrame → DataFrame. A value that does not parse as its declared type is never cast to null
silently: the record gets a `type_mismatch:<column>` reason and goes to quarantine with its raw
text. Reasons are collected together, so one pass tells everything wrong with a record.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.bronze import EXTRA_COLUMNS, FIELD_MAP, field_columns, field_value, is_malformed, record_as_json
from jobs.bronze_decode import BYTE_OFFSET, DECODE_ERRORS, SOURCE_ROW
from jobs.contracts import ColumnSpec, Contract, referenced_pattern

REASONS = "_reasons"
RECORD_KEY = "_record_key"
_SEPARATOR = "\u0001"
__all__ = ["EXTRA_COLUMNS", "REASONS", "RECORD_KEY", "conform", "kept_extra_columns", "with_kept_columns"]


def _raw(records: DataFrame, name: str) -> Column:
    """The field's text, trimmed, with empty strings as null (an empty CSV cell is a missing value)."""
    value = F.trim(field_value(records, name))
    return F.when(value != "", value)


def _raw_column(name: str) -> str:
    return f"__raw_{name}"


def typed_value(raw: Column, column: ColumnSpec) -> Column:
    """Cast with Spark's non-ANSI cast (null when unparseable) and apply standardisation."""
    data_type = column.spark_type
    if isinstance(data_type, T.StringType):
        value = raw
    elif isinstance(data_type, T.BooleanType):
        value = F.lower(raw).cast(T.BooleanType())
    elif isinstance(data_type, T.TimestampType):
        # Spark's cast reads ISO-8601 with 'T' or space, fractions, 'Z' and +hh:mm offsets.
        value = raw.cast(T.TimestampType())
    elif isinstance(data_type, T.DateType):
        # A full date only: '2024-1-3' and '31/02/1990' are type mismatches, not guesses.
        value = F.when(raw.rlike(r"^\d{4}-\d{2}-\d{2}$"), raw.cast(T.DateType()))
    else:
        value = raw.cast(data_type)
    for step in column.standardize:
        value = F.lower(value) if step == "lower" else F.upper(value)
    return value


def _nested_column(name: str) -> str:
    return f"__nested_{name}"


def nested_json_value(records: DataFrame, name: str) -> Column | None:
    """JSON records only: whether the field holds an object or an array (from_json into a string map
    gives their JSON text, indistinguishable from a string by its value alone: the raw line tells).
    Evaluated only for values that start with `{` or `[`."""
    if FIELD_MAP not in records.columns:
        return None
    value = F.ltrim(F.col(FIELD_MAP)[name])
    in_line = F.col("_raw_record").rlike('"' + "\\Q" + name + "\\E" + '"\\s*:\\s*[\\[{]')
    return F.when(value.startswith("{") | value.startswith("["), in_line).otherwise(F.lit(False))


CONTROL_CHARACTERS = "[\\x00-\\x1f\\x7f]"


def _reason_checks(contract: Contract, nested: set[str]) -> list[Column]:
    """One nullable string per possible problem; the non-null ones are the record's reasons."""
    checks: list[Column] = []
    identifiers = set(contract.identifier_columns)
    for column in contract.columns:
        raw, typed = F.col(_raw_column(column.name)), F.col(column.name)
        if column.required:
            checks.append(F.when(raw.isNull(), F.lit(f"missing_required:{column.name}")))
        mismatch = raw.isNotNull() & typed.isNull()
        if column.name in nested:  # an object or array where the contract declares a scalar
            mismatch = mismatch | F.col(_nested_column(column.name))
        checks.append(F.when(mismatch, F.lit(f"type_mismatch:{column.name}")))
        if column.name in identifiers:
            checks.append(F.when(raw.rlike(CONTROL_CHARACTERS), F.lit(f"control_character:{column.name}")))
        for pattern in dict.fromkeys(p for p in (column.pattern, referenced_pattern(column)) if p):
            checks.append(F.when(typed.isNotNull() & ~typed.rlike(pattern),
                                 F.lit(f"invalid_format:{column.name}")))
    return checks


def extra_columns(contract: Contract) -> Column:
    """Fields present (non-empty) in a record that the contract does not declare.

    The list is built (with interpreted higher-order functions) only for records whose map has
    more keys than the declared ones it contains: a cheap, code-generated test that is false for
    almost every row.
    """
    declared_present = sum((F.map_contains_key(FIELD_MAP, name).cast("int") for name in contract.column_names),
                           F.lit(0))
    declared = F.array(*[F.lit(name) for name in contract.column_names])
    present = F.map_keys(F.map_filter(FIELD_MAP, lambda _k, v: v.isNotNull() & (F.trim(v) != "")))
    return F.when(F.size(FIELD_MAP) > declared_present, F.array_sort(F.array_except(present, declared)))


def conform(records: DataFrame, contract: Contract) -> DataFrame:
    """Type and standardise the contract's columns and attach `_reasons` (empty when promotable).

    Keeps `_source_file` and `_extra_columns`; `_raw_record` and `_record_key` (the key as sent)
    are filled for rows with reasons only: they are what quarantine needs, and carrying them for
    every promotable row would cost a copy of the whole batch. The bronze fields are kept only
    under the `keep` drift policy (the new columns are read from them).
    """
    # Each field's text is looked up and trimmed once, into its own column: typing and every
    # reason check read that column (map lookups repeated per check cost more than the parse).
    raw_columns = [_raw_column(c.name) for c in contract.columns]
    bronze_columns = field_columns(records)
    extra = F.col(EXTRA_COLUMNS) if EXTRA_COLUMNS in records.columns else extra_columns(contract)
    # Files read by the decoded route (jobs/bronze_decode.py) bring their row numbers and decoding
    # errors; the fast path has no such columns and pays nothing for them.
    located = [c for c in (SOURCE_ROW, BYTE_OFFSET, DECODE_ERRORS) if c in records.columns]
    nested = {c.name: expr for c in contract.columns if isinstance(c.spark_type, T.StringType)
              and (expr := nested_json_value(records, c.name)) is not None}
    with_raw = records.select(
        "_source_file", "_raw_record", *bronze_columns, *located,
        is_malformed(records).alias("_malformed"),
        F.coalesce(extra, F.array().cast("array<string>")).alias(EXTRA_COLUMNS),
        *[_raw(records, c.name).alias(_raw_column(c.name)) for c in contract.columns],
        *[expr.alias(_nested_column(name)) for name, expr in nested.items()])
    sent_key = F.concat_ws("|", *[F.coalesce(F.col(_raw_column(k)), field_value(records, k)) for k in contract.key])
    typed = with_raw.select(
        "_source_file", "_raw_record", *bronze_columns, *located, "_malformed", EXTRA_COLUMNS, *raw_columns,
        *[_nested_column(name) for name in nested],
        *[typed_value(F.col(_raw_column(c.name)), c).alias(c.name) for c in contract.columns],
        sent_key.alias("_sent_key"),
    )
    malformed = F.when(F.col("_malformed"), F.array(F.lit("malformed_record")))
    # concat_ws skips nulls and is code-generated, unlike filter() over an array of checks.
    checks = _reason_checks(contract, set(nested))
    if DECODE_ERRORS in located:  # bytes that do not decode in the file's encoding come first
        checks.insert(0, F.array_join(F.col(DECODE_ERRORS), _SEPARATOR))
    if contract.new_columns == "quarantine":
        checks.append(F.when(F.size(EXTRA_COLUMNS) > 0, F.concat(
            F.lit("unexpected_column:"), F.array_join(EXTRA_COLUMNS, _SEPARATOR + "unexpected_column:"))))
    joined = F.concat_ws(_SEPARATOR, *checks)
    row_reasons = F.when(joined == "", F.array().cast("array<string>")).otherwise(F.split(joined, _SEPARATOR))
    with_reasons = typed.withColumn(REASONS, F.coalesce(malformed, row_reasons))
    rejected = F.size(REASONS) > 0
    conformed = with_reasons.select(
        "_source_file",
        # to_json is not code-generated: built in the CASE, so only for the rejected rows.
        F.when(rejected, F.coalesce("_raw_record", record_as_json(with_reasons))).alias("_raw_record"),
        F.when(rejected, F.col("_sent_key")).alias(RECORD_KEY),
        *contract.column_names, EXTRA_COLUMNS, REASONS,
        *[F.when(rejected, F.col(c)).alias(c) for c in located if c != DECODE_ERRORS],
        *(bronze_columns if contract.new_columns == "keep" else []),
    )
    return conformed


def kept_extra_columns(conformed: DataFrame, contract: Contract) -> list[str]:
    """Under the `keep` drift policy, the undeclared fields to carry into silver (as strings)."""
    if contract.new_columns != "keep":
        return []
    rows = conformed.select(F.explode(EXTRA_COLUMNS).alias("name")).distinct().collect()
    return sorted(row["name"] for row in rows)


def with_kept_columns(conformed: DataFrame, names: list[str]) -> DataFrame:
    """Add the kept new columns (as trimmed strings) and drop the bronze fields."""
    bronze_columns = field_columns(conformed)
    if not bronze_columns:
        return conformed
    return conformed.select("*", *[_raw(conformed, name).alias(name) for name in names]).drop(*bronze_columns)
