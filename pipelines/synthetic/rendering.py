"""Turn record tables into bronze text lines: CSV (header + rows) or JSON lines.

Whole tables render through Arrow (`strings`); single records (the few rows a flaw rewrites) render
in Python, where nulls, absent keys and values needing CSV quotes can occur.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Final

import pyarrow as pa

from pipelines.synthetic import strings


class _Missing:
    """Marks a field that is absent from a JSON line (as opposed to present and null)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


def csv_header(columns: Sequence[str]) -> str:
    return ",".join(columns)


def csv_lines(table: pa.Table, columns: Sequence[str]) -> pa.Array:
    """Generated values never hold commas, quotes or newlines, so rows join without quoting."""
    return strings.concat(*[table.column(c) for c in columns], separator=",")


def json_lines(table: pa.Table, columns: Sequence[str]) -> pa.Array:
    return strings.json_object_lines({c: table.column(c) for c in columns})


def csv_field(value: object) -> str:
    """One CSV field, quoted only when it must be (RFC 4180); null and missing become empty."""
    if value is None or value is MISSING:
        return ""
    text = str(value)
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_record_line(record: Mapping[str, object], columns: Sequence[str]) -> str:
    return ",".join(csv_field(record.get(c)) for c in columns)


def json_record_line(record: Mapping[str, object], columns: Sequence[str],
                     extra: Mapping[str, object] | None = None) -> str:
    """`columns` in order (MISSING ones left out), then any `extra` fields."""
    document = {c: record[c] for c in columns if record.get(c, MISSING) is not MISSING}
    document.update(extra or {})
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
