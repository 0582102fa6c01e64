"""The lake's small files on a local filesystem (a laptop, CI, the Glue Docker image)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jobs.storage import Storage

_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _renameat2_exchange(a: str, b: str) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    result = renameat2(_AT_FDCWD, a.encode(), _AT_FDCWD, b.encode(), _RENAME_EXCHANGE)
    return result == 0


class LocalFiles(Storage):
    """Files under local folders; writes go through a temporary file and a rename."""

    def write_bytes(self, path: str, data: bytes) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target)

    def read_bytes(self, path: str) -> bytes:
        return Path(path).read_bytes()

    def read_chunks(self, path: str, size: int) -> Iterator[bytes]:
        with open(path, "rb") as handle:
            while chunk := handle.read(size):
                yield chunk

    def first_line(self, path: str) -> str:
        with open(path, newline="") as handle:
            return handle.readline()

    def exists(self, path: str) -> bool:
        return Path(path).exists()

    def list_objects(self, folder: str) -> list[tuple[str, int]]:
        root = Path(folder)
        if not root.is_dir():
            return []
        return sorted((str(p), p.stat().st_size) for p in root.rglob("*") if p.is_file())

    def list_subdirs(self, folder: str) -> list[str]:
        root = Path(folder)
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def replace_folder(self, staged: str, target: str) -> None:
        """One atomic `renameat2(RENAME_EXCHANGE)`, so a reader sees the old folder or the new one (with
        a two-rename fallback on systems without it: a window in which the folder is absent, never
        half-written)."""
        target_path = Path(target)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        if not target_path.exists():
            os.rename(staged, target)
            return
        if _renameat2_exchange(staged, target):
            shutil.rmtree(staged)  # now holds the old content
            return
        trash = f"{target}.old-{uuid.uuid4().hex}"
        os.rename(target, trash)
        os.rename(staged, target)
        shutil.rmtree(trash)

    def spark_path(self, path: str) -> str:
        if path.startswith("file:"):
            return path
        return f"file://{Path(path).resolve()}"  # not as_uri(): Hadoop does not decode its %3D for '='

    def absolute(self, root: str) -> str:
        return str(Path(root).resolve())

    @contextmanager
    def working_folder(self, root: str, keep_existing: tuple[str, ...] = ()) -> Iterator[Path]:
        """The folder itself: a library writing there writes in place (it keeps what it finds)."""
        yield Path(root)
