"""Small-file and folder operations on the lake: the `Storage` interface, and the same operations by path.

Spark reads and writes the data; a `Storage` handles what Spark does not: manifests and reports (JSON),
listing and streaming bronze files, moving published partitions into place, and folders rendered by a
library that only writes to a filesystem. Two implementations exist, local files (jobs/local_files.py)
and S3 objects (jobs/s3_objects.py); which one serves a path is decided in one place,
`jobs.environment.storage_for`. A job takes its storage from its environment (`ctx.env.storage_for`);
the module-level functions below are the same operations for code that holds only a path.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any


def is_data_file(relative: str, suffixes: tuple[str, ...] = ()) -> bool:
    """A data file of a folder listing: no part of its path under the folder starts with `.` or `_`
    (hidden files, `_SUCCESS` markers, `_staging/`), and its name ends with one of `suffixes` (if any)."""
    parts = [part for part in relative.split("/") if part]
    return (bool(parts) and not any(part.startswith((".", "_")) for part in parts)
            and (not suffixes or parts[-1].endswith(suffixes)))


class Storage(ABC):
    """Where the lake's small files live. Paths are whole: a local path or an `s3://bucket/key` URI."""

    @abstractmethod
    def write_bytes(self, path: str, data: bytes) -> None:
        """Write a whole file; a reader sees the old content or the new, never half of it."""

    @abstractmethod
    def read_bytes(self, path: str) -> bytes: ...

    @abstractmethod
    def read_chunks(self, path: str, size: int) -> Iterator[bytes]:
        """The file's bytes in pieces of at most `size`, streamed."""

    @abstractmethod
    def first_line(self, path: str) -> str:
        """The file's first line as text (a CSV header), without reading the whole file."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """A file, or a folder holding at least one object."""

    @abstractmethod
    def list_objects(self, folder: str) -> list[tuple[str, int]]:
        """Every object under `folder` (deeply) with its size in bytes, sorted by path; nothing skipped."""

    @abstractmethod
    def list_subdirs(self, folder: str) -> list[str]:
        """Names of the folders directly under `folder`, sorted."""

    @abstractmethod
    def remove_tree(self, path: str) -> None: ...

    @abstractmethod
    def replace_folder(self, staged: str, target: str) -> None:
        """Put `staged` in place of `target` (each implementation says what a reader sees meanwhile)."""

    @abstractmethod
    def spark_path(self, path: str) -> str:
        """The path as Spark's readers take it (a fully qualified URI)."""

    @abstractmethod
    def absolute(self, root: str) -> str:
        """A root as every process reads it the same way (local paths made absolute)."""

    @abstractmethod
    def working_folder(self, root: str, keep_existing: tuple[str, ...] = ()) -> AbstractContextManager[Path]:
        """A local folder standing for `root` while a library writes into it; what it holds is at `root`
        afterwards. Files under a `keep_existing` prefix are not replaced when `root` already has one."""

    def list_files(self, folder: str, suffixes: tuple[str, ...] = ()) -> list[str]:
        """Data files directly or deeply under a folder, skipping hidden and `_`-prefixed names."""
        base = folder.rstrip("/") + "/"
        return [path for path, _ in self.list_objects(folder) if is_data_file(path[len(base):], suffixes)]

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode())

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode()

    def write_json(self, path: str, payload: Any) -> None:
        self.write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")

    def read_json(self, path: str) -> Any:
        return json.loads(self.read_text(path))


# --- the same operations by path, for code that holds no environment ------------------------------

def storage_at(path: str) -> Storage:
    """The storage serving `path` (a new one each call, so it sees the process's current AWS settings)."""
    from jobs.environment import storage_for  # the environment builds on this module

    return storage_for(path)


def write_bytes(path: str, data: bytes) -> None:
    storage_at(path).write_bytes(path, data)


def read_bytes(path: str) -> bytes:
    return storage_at(path).read_bytes(path)


def write_text(path: str, text: str) -> None:
    storage_at(path).write_text(path, text)


def read_text(path: str) -> str:
    return storage_at(path).read_text(path)


def write_json(path: str, payload: Any) -> None:
    storage_at(path).write_json(path, payload)


def read_json(path: str) -> Any:
    return storage_at(path).read_json(path)


def exists(path: str) -> bool:
    return storage_at(path).exists(path)


def list_files(folder: str, suffixes: tuple[str, ...] = ()) -> list[str]:
    return storage_at(folder).list_files(folder, suffixes)


def list_subdirs(folder: str) -> list[str]:
    return storage_at(folder).list_subdirs(folder)


def remove_tree(path: str) -> None:
    storage_at(path).remove_tree(path)


def replace_folder(staged: str, target: str) -> None:
    storage_at(target).replace_folder(staged, target)
