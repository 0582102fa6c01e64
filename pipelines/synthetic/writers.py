"""File output. Files appear atomically: written under a hidden temporary name (which Spark and the
bronze readers skip), then renamed, so a reader never sees half a file."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa

from pipelines.synthetic import strings


def write_lines(path: Path, lines: Sequence[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "w", encoding="utf-8", newline="\n") as handle:
        handle.write("\n".join(lines))
        if lines:
            handle.write("\n")
    os.replace(temporary, path)


def write_arrow_lines(path: Path, lines: pa.Array, first_lines: Sequence[str] = ()) -> None:
    """Arrow string array -> one line each, copied from Arrow's buffers without Python strings."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as handle:
        for line in first_lines:
            handle.write(line.encode("utf-8") + b"\n")
        handle.write(strings.as_bytes_with_newlines(lines))
    os.replace(temporary, path)


def write_json_lines(path: Path, records: Iterable[object]) -> None:
    write_lines(path, [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records])


def write_json(path: Path, document: object, pretty: bool = True) -> None:
    """`pretty=False` for big documents: indentation forces json's slow pure-Python encoder."""
    text = json.dumps(document, ensure_ascii=False, indent=1 if pretty else None,
                      separators=None if pretty else (",", ":"))
    write_lines(path, [text])


def remove_if_present(paths: Iterable[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)
