"""Reading bronze files into one untyped shape, keeping every record, broken ones included.

Whatever the format, the result has one row per bronze record with:
- `_source_file`: the file it came from,
- `_raw_record`: the original line (JSON; malformed CSV rows) or null (a well-formed CSV row, whose
  text is rebuilt from its fields only if it ends in quarantine: building it for every row is costly),
- the record's fields as strings, read with `field_value(records, name)`: JSON lines keep them in
  `_fields` (map<string,string>, null when the line is not a JSON object), CSV files in one column
  per header field (`_f_<name>`), which costs far less than building a map per row,
- `_extra_columns` (CSV only, known from each file's header): the undeclared fields a row fills.
Typing happens later, against the contract, so that a value that does not parse is seen and
quarantined rather than silently read as null.
"""

from __future__ import annotations

import csv
import io

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.bronze_files import BronzeFile, UnreadableFile, sha256_of
from jobs.contracts import Contract
from jobs.storage import list_files, storage_at

FORMAT_SUFFIXES = {"jsonl": (".jsonl", ".json", ".ndjson"), "csv": (".csv",)}
FIELD_MAP = "_fields"
FIELD_PREFIX = "_f_"
EXTRA_COLUMNS = "_extra_columns"
_CORRUPT = "_corrupt_record"


def field_value(records: DataFrame, name: str) -> Column:
    """A field's text as sent (untrimmed; null when the record does not have it)."""
    if FIELD_MAP in records.columns:
        return F.col(FIELD_MAP)[name]
    column = FIELD_PREFIX + name
    return F.col(column) if column in records.columns else F.lit(None).cast(T.StringType())


def field_columns(records: DataFrame) -> list[str]:
    """The columns holding the record's fields as sent: the JSON field map, or one column per CSV field."""
    return [c for c in records.columns if c == FIELD_MAP or c.startswith(FIELD_PREFIX)]


def field_names(records: DataFrame) -> list[str]:
    """The fields present as columns (CSV); a map-shaped frame (JSON) has none known up front."""
    return [c[len(FIELD_PREFIX):] for c in field_columns(records) if c != FIELD_MAP]


def is_malformed(records: DataFrame) -> Column:
    """A JSON line that is not an object has no field map; a CSV row that broke the parser keeps its text."""
    if FIELD_MAP in records.columns:
        return F.col(FIELD_MAP).isNull()
    return F.col("_raw_record").isNotNull()


def record_as_json(records: DataFrame) -> Column:
    """The record's fields as a JSON object (for quarantined CSV rows, whose line is not kept)."""
    if FIELD_MAP in records.columns:
        return F.to_json(FIELD_MAP)
    names = field_names(records)
    return F.to_json(F.struct(*[F.col(FIELD_PREFIX + n).alias(n) for n in names]), {"ignoreNullFields": "false"})


class BronzeReadError(RuntimeError):
    """Bronze input cannot be read at all (the message names the folder or file)."""


def bronze_files(folder: str, contract: Contract) -> list[str]:
    files = list_files(folder, FORMAT_SUFFIXES[contract.format])
    if not files:
        raise BronzeReadError(
            f"dataset {contract.name}: no {contract.format} files in {folder} "
            f"(expected names ending in {', '.join(FORMAT_SUFFIXES[contract.format])})")
    return files


def source_file_column() -> Column:
    """The record's file, as a plain path locally (`file:` scheme dropped) and an s3:// URI on AWS."""
    return F.regexp_replace(F.input_file_name(), r"^file:(//)?", "").alias("_source_file")


def _qualified(path: str) -> str:
    return storage_at(path).spark_path(path)


def read_bronze(spark: SparkSession, files: list[str], contract: Contract) -> DataFrame:
    """Plain files Spark reads natively (no inspection: see `read_inspected` for a date's folder)."""
    if contract.format == "jsonl":
        return read_jsonl(spark, files)
    return read_csv(spark, files, contract)


def read_inspected(spark: SparkSession, entries: list[BronzeFile], contract: Contract) -> DataFrame:
    """The files `jobs.bronze_files` found readable, each by its route: the native ones together as
    before (the fast path), the decoded ones parsed in Python (`jobs.bronze_decode`); a decoded file
    that turns out unreadable is marked `quarantined` on its entry and left out."""
    from jobs.bronze_decode import read_decoded

    readable = [e for e in entries if e.outcome == "read"]
    frames: list[DataFrame] = []
    native = [e for e in readable if e.route == "native"]
    if native and contract.format == "jsonl":
        frames.append(read_jsonl(spark, [e.path for e in native]))
    elif native:
        frames += [_read_one_csv(spark, e.path, contract, e.header) for e in native]
    for entry in readable:
        if entry.route != "decoded":
            continue
        try:
            frame, rows = read_decoded(spark, entry, contract)
        except UnreadableFile as exc:
            entry.outcome, entry.route, entry.reason = "quarantined", None, str(exc)
            entry.sha256 = sha256_of(entry.path)
            continue
        if rows == 0:
            entry.outcome = "header_only" if contract.format == "csv" else "empty"
            entry.reason = "a header and no rows" if contract.format == "csv" else "blank lines only"
            continue
        frames.append(frame)
    if not frames:
        return empty_records(spark, contract)
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame, allowMissingColumns=True)
    return result


def empty_records(spark: SparkSession, contract: Contract) -> DataFrame:
    """No readable rows (every file empty, skipped or quarantined): bronze's shape with no rows."""
    fields = [T.StructField("_source_file", T.StringType()), T.StructField("_raw_record", T.StringType())]
    if contract.format == "jsonl":
        fields.append(T.StructField(FIELD_MAP, T.MapType(T.StringType(), T.StringType())))
    else:
        fields.append(T.StructField(EXTRA_COLUMNS, T.ArrayType(T.StringType())))
    return spark.createDataFrame([], T.StructType(fields))


def read_jsonl(spark: SparkSession, files: list[str]) -> DataFrame:
    """JSON lines; a line that is not a JSON object keeps `_fields` null. Blank lines are skipped."""
    lines = spark.read.text([_qualified(f) for f in files])
    fields = F.from_json("value", T.MapType(T.StringType(), T.StringType()), {"mode": "PERMISSIVE"})
    return (
        lines.where(F.length(F.trim("value")) > 0)
        .select(
            source_file_column(),
            F.col("value").alias("_raw_record"),
            fields.alias(FIELD_MAP),
        )
    )


def csv_header(path: str) -> list[str]:
    return next(csv.reader(io.StringIO(storage_at(path).first_line(path))), [])


def read_csv(spark: SparkSession, files: list[str], contract: Contract) -> DataFrame:
    """CSV with a header per file. Files may differ in columns (drift): each is read with its own
    header, and rows with the wrong number of fields or broken quoting are kept as malformed."""
    frames = [_read_one_csv(spark, path, contract) for path in files]
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame, allowMissingColumns=True)
    return result


def _read_one_csv(spark: SparkSession, path: str, contract: Contract, header: list[str] | None = None) -> DataFrame:
    header = header or [name.strip() for name in csv_header(path)]
    if not header or len(set(header)) != len(header):
        raise BronzeReadError(f"{path}: missing or duplicate CSV header {header!r}")
    schema = T.StructType([T.StructField(f"_c{i}", T.StringType()) for i in range(len(header))]
                          + [T.StructField(_CORRUPT, T.StringType())])
    frame = (
        spark.read.option("header", True).option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT).option("multiLine", False)
        # RFC 4180: a quote inside a quoted field is doubled (Spark's default escape is a backslash,
        # which left `"the ""best"" shop"` as sent, quotes and all).
        .option("escape", '"')
        .option("ignoreLeadingWhiteSpace", False).option("ignoreTrailingWhiteSpace", False)
        .schema(schema).csv(_qualified(path))
    )
    # The file is known here, so its name is a literal (no per-row input_file_name()), and so are
    # the undeclared columns its header brings: a row lists those it fills (a blank cell is absent).
    declared = set(contract.column_names)
    extra = [(i, name) for i, name in enumerate(header) if name not in declared]
    well_formed = F.col(_CORRUPT).isNull()
    filled_extra = F.array_compact(F.array(*[F.when(F.trim(F.col(f"_c{i}")) != "", F.lit(name))
                                             for i, name in sorted(extra, key=lambda pair: pair[1])]))
    return frame.select(
        F.lit(path).alias("_source_file"),
        F.col(_CORRUPT).alias("_raw_record"),  # set for malformed rows; others are rebuilt if quarantined
        *[F.when(well_formed, F.col(f"_c{i}")).alias(FIELD_PREFIX + name) for i, name in enumerate(header)],
        (F.when(well_formed, filled_extra) if extra else F.array().cast("array<string>")).alias(EXTRA_COLUMNS),
    )
