"""Reading bronze files into one untyped shape, keeping every record, broken ones included.

Whatever the format, the result has one row per bronze record with:
- `_source_file`: the file it came from,
- `_raw_record`: the original line (JSON; malformed CSV rows) or null (a well-formed CSV row, whose
  text is rebuilt from `_fields` only if it ends in quarantine: building it for every row is costly),
- `_fields`: map<string,string> of every field present (null when the record is malformed).
Typing happens later, against the contract, so that a value that does not parse is seen and
quarantined rather than silently read as null.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import Contract
from jobs.storage import is_s3, list_files

FORMAT_SUFFIXES = {"jsonl": (".jsonl", ".json", ".ndjson"), "csv": (".csv",)}
RAW_COLUMNS = ("_source_file", "_raw_record", "_fields")
_CORRUPT = "_corrupt_record"


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
    if is_s3(path) or path.startswith("file:"):
        return path
    return f"file://{Path(path).resolve()}"  # not as_uri(): Hadoop does not decode its %3D for '='



def read_bronze(spark: SparkSession, files: list[str], contract: Contract) -> DataFrame:
    if contract.format == "jsonl":
        return read_jsonl(spark, files)
    return read_csv(spark, files)


def read_jsonl(spark: SparkSession, files: list[str]) -> DataFrame:
    """JSON lines; a line that is not a JSON object keeps `_fields` null. Blank lines are skipped."""
    lines = spark.read.text([_qualified(f) for f in files])
    fields = F.from_json("value", T.MapType(T.StringType(), T.StringType()), {"mode": "PERMISSIVE"})
    return (
        lines.where(F.length(F.trim("value")) > 0)
        .select(
            source_file_column(),
            F.col("value").alias("_raw_record"),
            fields.alias("_fields"),
        )
    )


def csv_header(path: str) -> list[str]:
    if is_s3(path):
        first_line = _s3_first_line(path)
    else:
        with open(path, newline="") as handle:
            first_line = handle.readline()
    return next(csv.reader(io.StringIO(first_line)), [])


def _s3_first_line(path: str) -> str:
    from jobs.storage import _s3_client, _split_s3

    bucket, key = _split_s3(path)
    body = _s3_client().get_object(Bucket=bucket, Key=key, Range="bytes=0-65535")["Body"].read()
    return body.decode(errors="replace").split("\n", 1)[0]


def read_csv(spark: SparkSession, files: list[str]) -> DataFrame:
    """CSV with a header per file. Files may differ in columns (drift): each is read with its own
    header, and rows with the wrong number of fields or broken quoting are kept as malformed."""
    frames = [_read_one_csv(spark, path) for path in files]
    result = frames[0]
    for frame in frames[1:]:
        result = result.unionByName(frame)
    return result


def _read_one_csv(spark: SparkSession, path: str) -> DataFrame:
    header = [name.strip() for name in csv_header(path)]
    if not header or len(set(header)) != len(header):
        raise BronzeReadError(f"{path}: missing or duplicate CSV header {header!r}")
    schema = T.StructType([T.StructField(f"_c{i}", T.StringType()) for i in range(len(header))]
                          + [T.StructField(_CORRUPT, T.StringType())])
    frame = (
        spark.read.option("header", True).option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", _CORRUPT).option("multiLine", False)
        .option("ignoreLeadingWhiteSpace", False).option("ignoreTrailingWhiteSpace", False)
        .schema(schema).csv(_qualified(path))
    )
    pairs: list[Column] = []
    for i, name in enumerate(header):
        pairs += [F.lit(name), F.col(f"_c{i}")]
    return frame.select(
        source_file_column(),
        F.col(_CORRUPT).alias("_raw_record"),  # set for malformed rows; others are rebuilt if quarantined
        F.when(F.col(_CORRUPT).isNull(), F.create_map(*pairs)).alias("_fields"),
    )
