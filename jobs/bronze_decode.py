"""The decoded route: bronze files Spark cannot read as they are, parsed in Python into bronze's shape.

A file comes here when `jobs.bronze_files` found something Spark's readers would get wrong (see its
docstring). Its content is decompressed and decoded in the encoding of its BOM or its contract, with
undecodable bytes kept as surrogates (`surrogateescape`), so that a bad byte makes its ROW a quarantine
reason (`undecodable_bytes:<field>`, with the row's byte offset), never the file, and never U+FFFD.

CSV follows RFC 4180 (Python's `csv` module: quoted fields spanning lines, doubled quotes) on CRLF, CR
or LF line ends; a record that spans lines is one row, numbered by the line it starts on. JSON lines may
have blank lines; a file whose content is one JSON array is read element by element.

Rows carry the same columns as Spark's fast path (`_source_file`, `_raw_record`, `_f_<name>` or
`_fields`, `_extra_columns`) plus `_source_row` (the line a CSV record or JSON line starts on; the
element's position in a JSON array), `_byte_offset` (of the first undecodable byte) and
`_decode_errors` (reasons), which the fast path does not need.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.bronze_files import BronzeFile, UnreadableFile, file_content, python_encoding
from jobs.contracts import Contract

SOURCE_ROW = "_source_row"
BYTE_OFFSET = "_byte_offset"
DECODE_ERRORS = "_decode_errors"
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_ESCAPED = re.compile(r"[\udc80-\udcff]")
BOM_BYTES = {"utf-8": 3, "utf-16-le": 2, "utf-16-be": 2}


def decode_text(entry: BronzeFile) -> str:
    content = file_content(entry.path, entry.codec)
    encoding = python_encoding(entry.encoding or "utf-8", entry.bom)
    try:
        return content.decode(encoding, "surrogateescape")
    except UnicodeDecodeError as exc:  # a multi-byte codec (UTF-16) cut mid-character
        raise UnreadableFile("undecodable", f"not {entry.encoding} at byte {exc.start}") from None


def visible(text: str) -> str:
    """Undecodable bytes shown as `\\xNN` (for quarantine: the value as sent, never U+FFFD)."""
    if not _ESCAPED.search(text):
        return text
    return _ESCAPED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


class _Offsets:
    """Byte offset in the file of each line start; computed only for files with undecodable bytes."""

    def __init__(self, lines: list[str], entry: BronzeFile) -> None:
        self.lines = lines
        self.encoding = entry.encoding or "utf-8"
        self.start = BOM_BYTES.get(entry.encoding or "", 0) if entry.bom else 0
        self._starts: list[int] | None = None

    def _encoded_length(self, text: str) -> int:
        return len(text.encode(self.encoding, "surrogateescape"))

    def of(self, line_index: int, text_before: str = "") -> int:
        if self._starts is None:
            starts, position = [], self.start
            for line in self.lines:
                starts.append(position)
                position += self._encoded_length(line)
            self._starts = starts
        return self._starts[line_index] + self._encoded_length(text_before)


def _bad_offset(offsets: _Offsets, line_index: int, record_text: str) -> int:
    match = _ESCAPED.search(record_text)
    return offsets.of(line_index, record_text[: match.start()] if match else "")


class _Lines:
    """The file's lines for `csv.reader`, with a position that can be moved back (see `csv_rows`)."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.position = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.position >= len(self.lines):
            raise StopIteration
        self.position += 1
        return self.lines[self.position - 1]


def csv_rows(entry: BronzeFile, text: str, contract: Contract) -> Iterator[tuple[Any, ...]]:
    """(raw_record, fields, extra, row, byte_offset, decode_errors) per CSV record after the header.

    A quoted field may span lines (RFC 4180), but only a record that then parses cleanly (strict
    quoting, the header's number of fields, its last quote closed) is taken as one: otherwise the
    quote was a stray one (a line cut short, an unterminated quote), its first line alone is a
    malformed row, and reading resumes on the next line, so one bad quote never swallows the rows
    after it.
    """
    lines = _LINE.findall(text)
    offsets = _Offsets(lines, entry)
    header = entry.header or []
    declared = set(contract.column_names)
    extra_names = [(i, name) for i, name in enumerate(header) if name not in declared]
    source = _Lines(lines)
    reader = csv.reader(source, strict=True)
    started_header = False
    while True:
        start = source.position  # index of the first line of the next record
        try:
            fields: list[str] | None = next(reader)
        except StopIteration:
            return
        except csv.Error:
            fields = None
        end = source.position
        if fields is not None and (not fields or not "".join(fields).strip()) and end - start == 1:
            continue  # a blank line
        record_text = "".join(lines[start:end]).rstrip("\r\n")
        well_formed = (fields is not None and len(fields) == len(header)
                       and record_text.count('"') % 2 == 0)  # odd: the file ends inside a quoted field
        if not started_header:
            started_header = True
            if end - start > 1 and not well_formed:
                source.position = start + 1  # a header never spans lines: resume after its line
            continue
        if not well_formed:
            if end - start > 1:  # not a record spanning lines after all: only its first line is bad
                source.position, end = start + 1, start + 1
                record_text = lines[start].rstrip("\r\n")
            yield visible(record_text), None, [], start + 1, None, None
            continue
        assert fields is not None
        errors, offset = None, None
        if _ESCAPED.search(record_text):
            errors = [f"undecodable_bytes:{header[i]}" for i, value in enumerate(fields) if _ESCAPED.search(value)]
            offset = _bad_offset(offsets, start, record_text)
            fields = [visible(value) for value in fields]
        extra = sorted(name for i, name in extra_names if fields[i].strip() != "")
        yield None, fields, extra, start + 1, offset, errors or None


def _as_text(value: Any) -> str | None:
    """A JSON value as Spark's from_json into map<string,string> gives it: strings as they are,
    numbers as written, true/false, nested objects and arrays as compact JSON."""
    if value is None or isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _json_record(raw_text: str) -> tuple[dict[str, str | None] | None, list[str] | None]:
    try:
        parsed = json.loads(raw_text, parse_float=str, parse_int=str)
    except ValueError:
        return None, None
    if not isinstance(parsed, dict):
        return None, None
    fields = {str(k): _as_text(v) for k, v in parsed.items()}
    errors = [f"undecodable_bytes:{visible(k)}" for k, v in fields.items()
              if _ESCAPED.search(k) or (v is not None and _ESCAPED.search(v))]
    if errors:
        fields = {visible(k): (visible(v) if v is not None else None) for k, v in fields.items()}
    return fields, errors or None


def jsonl_rows(entry: BronzeFile, text: str) -> Iterator[tuple[Any, ...]]:
    """(raw_record, fields, row, byte_offset, decode_errors) per non-blank line, or per array element."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            elements = json.loads(text, parse_float=str, parse_int=str)
        except ValueError as exc:
            raise UnreadableFile("invalid_json_array", f"the file starts with '[' but is not one JSON array: {exc}") \
                from None
        for position, element in enumerate(elements if isinstance(elements, list) else [elements], start=1):
            raw = json.dumps(element, ensure_ascii=False)
            fields, errors = _json_record(raw) if isinstance(element, dict) else (None, None)
            yield visible(raw), fields, position, None, errors
        return
    lines = _LINE.findall(text)
    offsets = _Offsets(lines, entry)
    for index, line in enumerate(lines):
        raw = line.rstrip("\r\n")
        if not raw.strip():
            continue
        fields, errors = _json_record(raw)
        offset = _bad_offset(offsets, index, raw) if _ESCAPED.search(raw) else None
        if fields is None and offset is not None:
            errors = ["undecodable_bytes"]
        yield visible(raw), fields, index + 1, offset, errors


def decoded_schema(contract: Contract, header: list[str] | None) -> T.StructType:
    common = [T.StructField("_source_file", T.StringType()), T.StructField("_raw_record", T.StringType())]
    tail = [T.StructField(SOURCE_ROW, T.LongType()), T.StructField(BYTE_OFFSET, T.LongType()),
            T.StructField(DECODE_ERRORS, T.ArrayType(T.StringType()))]
    if contract.format == "jsonl":
        return T.StructType([*common, T.StructField("_fields", T.MapType(T.StringType(), T.StringType())), *tail])
    return T.StructType([*common, *[T.StructField(f"_f_{name}", T.StringType()) for name in header or []],
                         T.StructField("_extra_columns", T.ArrayType(T.StringType())), *tail])


def read_decoded(spark: SparkSession, entry: BronzeFile, contract: Contract) -> tuple[DataFrame, int]:
    """One decoded file as a DataFrame in bronze's shape, and its row count."""
    text = decode_text(entry)
    rows: list[tuple[Any, ...]] = []
    if contract.format == "jsonl":
        for raw, fields, row, offset, errors in jsonl_rows(entry, text):
            rows.append((entry.path, raw, fields, row, offset, errors))
    else:
        width = len(entry.header or [])
        for raw, fields, extra, row, offset, errors in csv_rows(entry, text, contract):
            values = list(fields) if fields is not None else [None] * width
            rows.append((entry.path, raw, *values, extra, row, offset, errors))
    return spark.createDataFrame(rows, decoded_schema(contract, entry.header)), len(rows)
