"""The lake's small files as S3 objects (AWS, or an emulator such as a moto server)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jobs.storage import Storage

DELETE_BATCH = 1000  # DeleteObjects' limit of keys per call
FIRST_LINE_BYTES = 65536  # a CSV header longer than this is cut


def split_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` (or `s3a://`) as (bucket, key)."""
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


class S3Objects(Storage):
    """Objects in S3 buckets. One boto3 client, made on first use, serves every call of the object;
    without an `endpoint_url` boto3 finds one as usual (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`)."""

    def __init__(self, endpoint_url: str | None = None) -> None:
        self.endpoint_url = endpoint_url

    @cached_property
    def client(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url)

    def _keys(self, bucket: str, prefix: str) -> Iterator[dict[str, Any]]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def write_bytes(self, path: str, data: bytes) -> None:
        bucket, key = split_uri(path)
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def read_bytes(self, path: str) -> bytes:
        bucket, key = split_uri(path)
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def read_chunks(self, path: str, size: int) -> Iterator[bytes]:
        bucket, key = split_uri(path)
        body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        while chunk := body.read(size):
            yield chunk

    def first_line(self, path: str) -> str:
        bucket, key = split_uri(path)
        head = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{FIRST_LINE_BYTES - 1}")["Body"].read()
        return head.decode(errors="replace").split("\n", 1)[0]

    def exists(self, path: str) -> bool:
        bucket, key = split_uri(path)
        response = self.client.list_objects_v2(Bucket=bucket, Prefix=key.rstrip("/"), MaxKeys=1)
        return response.get("KeyCount", 0) > 0

    def list_objects(self, folder: str) -> list[tuple[str, int]]:
        """Folder markers (keys ending in `/`) are not objects of the folder."""
        bucket, prefix = split_uri(folder.rstrip("/") + "/")
        return sorted((f"s3://{bucket}/{obj['Key']}", int(obj["Size"]))
                      for obj in self._keys(bucket, prefix) if not obj["Key"].endswith("/"))

    def list_subdirs(self, folder: str) -> list[str]:
        bucket, prefix = split_uri(folder.rstrip("/") + "/")
        response = self.client.list_objects_v2(Bucket=bucket, Prefix=prefix, Delimiter="/")
        return sorted(p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in response.get("CommonPrefixes", []))

    def remove_tree(self, path: str) -> None:
        bucket, prefix = split_uri(path.rstrip("/") + "/")
        self._delete(bucket, [obj["Key"] for obj in self._keys(bucket, prefix)])

    def _delete(self, bucket: str, keys: list[str]) -> None:
        for start in range(0, len(keys), DELETE_BATCH):
            self.client.delete_objects(Bucket=bucket,
                                       Delete={"Objects": [{"Key": k} for k in keys[start:start + DELETE_BATCH]]})

    def replace_folder(self, staged: str, target: str) -> None:
        """S3 has no rename: objects are copied under new names, then the old ones deleted, so a reader
        listing the prefix mid-way can see both; readers that go through the Glue Data Catalog see the
        partition switch only once it is registered."""
        src_bucket, src_prefix = split_uri(staged.rstrip("/") + "/")
        dst_bucket, dst_prefix = split_uri(target.rstrip("/") + "/")
        old = {obj["Key"] for obj in self._keys(dst_bucket, dst_prefix)}
        for obj in self._keys(src_bucket, src_prefix):
            new_key = dst_prefix + obj["Key"][len(src_prefix):]
            self.client.copy_object(Bucket=dst_bucket, Key=new_key,
                                    CopySource={"Bucket": src_bucket, "Key": obj["Key"]})
            old.discard(new_key)
        self._delete(dst_bucket, sorted(old))
        self.remove_tree(staged)

    def spark_path(self, path: str) -> str:
        return path

    def absolute(self, root: str) -> str:
        return root

    @contextmanager
    def working_folder(self, root: str, keep_existing: tuple[str, ...] = ()) -> Iterator[Path]:
        """A temporary folder, uploaded under `root` when the block ends without an error."""
        bucket, prefix = split_uri(root.rstrip("/") + "/")
        prefix = prefix if prefix.strip("/") else ""
        kept = {start for start in keep_existing if self.client.list_objects_v2(
            Bucket=bucket, Prefix=prefix + start, MaxKeys=1).get("KeyCount", 0)}
        with tempfile.TemporaryDirectory(prefix="lake-upload-") as scratch:
            yield Path(scratch)
            for path in sorted(p for p in Path(scratch).rglob("*") if p.is_file()):
                relative = path.relative_to(scratch).as_posix()
                if any(relative.startswith(start) for start in kept):
                    continue
                extra = {"ContentType": "text/html"} if path.suffix == ".html" else {}
                self.client.put_object(Bucket=bucket, Key=prefix + relative, Body=path.read_bytes(), **extra)
