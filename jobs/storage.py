"""Small-file and folder operations on the lake, for local paths and `s3://` URIs.

Spark reads and writes the data; this module handles what Spark does not: manifests and reports
(JSON), listing bronze files, and moving published partitions into place.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse


def is_s3(path: str) -> bool:
    return path.startswith(("s3://", "s3a://"))


def _split_s3(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


def _s3_client() -> Any:
    import boto3

    return boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3"))


def write_bytes(path: str, data: bytes) -> None:
    """Write a whole file; locally via a temp file and rename so readers never see half of it."""
    if is_s3(path):
        bucket, key = _split_s3(path)
        _s3_client().put_object(Bucket=bucket, Key=key, Body=data)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def read_bytes(path: str) -> bytes:
    if is_s3(path):
        bucket, key = _split_s3(path)
        return _s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return Path(path).read_bytes()


def write_text(path: str, text: str) -> None:
    write_bytes(path, text.encode())


def read_text(path: str) -> str:
    return read_bytes(path).decode()


def write_json(path: str, payload: Any) -> None:
    write_text(path, json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: str) -> Any:
    return json.loads(read_text(path))


def exists(path: str) -> bool:
    if is_s3(path):
        bucket, key = _split_s3(path)
        response = _s3_client().list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/"), MaxKeys=1)
        return response.get("KeyCount", 0) > 0
    return Path(path).exists()


def list_files(folder: str, suffixes: tuple[str, ...] = ()) -> list[str]:
    """Data files directly or deeply under a folder, skipping hidden and `_`-prefixed names."""
    def wanted(name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        return not base.startswith((".", "_")) and (not suffixes or base.endswith(suffixes))

    if is_s3(folder):
        bucket, prefix = _split_s3(folder.rstrip("/") + "/")
        paginator = _s3_client().get_paginator("list_objects_v2")
        keys = [obj["Key"] for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
                for obj in page.get("Contents", [])]
        return sorted(f"s3://{bucket}/{key}" for key in keys if wanted(key))
    root = Path(folder)
    if not root.is_dir():
        return []
    return sorted(str(p) for p in root.rglob("*") if p.is_file() and wanted(p.name)
                  and not any(part.startswith(("_", ".")) for part in p.relative_to(root).parts[:-1]))


def list_subdirs(folder: str) -> list[str]:
    if is_s3(folder):
        bucket, prefix = _split_s3(folder.rstrip("/") + "/")
        response = _s3_client().list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        return sorted(p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in response.get("CommonPrefixes", []))
    root = Path(folder)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def remove_tree(path: str) -> None:
    if is_s3(path):
        bucket, prefix = _split_s3(path.rstrip("/") + "/")
        client = _s3_client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
            if objects:
                client.delete_objects(Bucket=bucket, Delete={"Objects": objects})
        return
    shutil.rmtree(path, ignore_errors=True)


# --- atomic replacement of a folder ------------------------------------------------------------

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


def replace_folder(staged: str, target: str) -> None:
    """Put `staged` in place of `target` so that a reader sees the old folder or the new one.

    Locally this is one atomic `renameat2(RENAME_EXCHANGE)` (with a two-rename fallback on systems
    without it, leaving a window in which the folder is absent, never half-written). On S3 there
    is no rename: objects are copied under new names, then the old ones deleted, so a reader
    listing the prefix mid-way can see both; readers that go through the Glue Data Catalog see
    the partition switch only once it is registered.
    """
    if is_s3(target):
        _replace_s3_prefix(staged, target)
        return
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


def _replace_s3_prefix(staged: str, target: str) -> None:
    client = _s3_client()
    src_bucket, src_prefix = _split_s3(staged.rstrip("/") + "/")
    dst_bucket, dst_prefix = _split_s3(target.rstrip("/") + "/")
    old = [obj["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=dst_bucket, Prefix=dst_prefix) for obj in page.get("Contents", [])]
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=src_bucket, Prefix=src_prefix):
        for obj in page.get("Contents", []):
            new_key = dst_prefix + obj["Key"][len(src_prefix):]
            client.copy_object(Bucket=dst_bucket, Key=new_key,
                               CopySource={"Bucket": src_bucket, "Key": obj["Key"]})
            if new_key in old:
                old.remove(new_key)
    for start in range(0, len(old), 1000):
        client.delete_objects(Bucket=dst_bucket,
                              Delete={"Objects": [{"Key": k} for k in old[start:start + 1000]]})
    remove_tree(staged)
