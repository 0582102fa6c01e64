"""Local stand-ins for S3 URIs: each mounted `s3://bucket/prefix` is a folder (or file) on disk.

The state machines name SageMaker's inputs and outputs as S3 URIs (they are deployed as is).
Locally the lake's layers are folders, so the engine mounts, for example,
`s3://lakehouse-local-gold/` → `<lake>/gold/` and `s3://lakehouse-local-artifacts/ops/` →
`<lake>/ops/`; the longest matching mount wins. A URI outside every mount is an error that names
the mounts, never a silent write somewhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse


class UnmappedS3UriError(ValueError):
    """An S3 URI that no local mount covers."""


@dataclass(frozen=True)
class LocalS3:
    mounts: Mapping[str, Path] = field(default_factory=dict)  # "s3://bucket/prefix" -> local path

    def to_local(self, uri: str) -> Path:
        if not uri.startswith("s3://"):
            raise UnmappedS3UriError(f"not an S3 URI: {uri!r}")
        best = ""
        for mount in self.mounts:
            bare = mount.rstrip("/")
            if (uri == bare or uri.startswith(bare + "/")) and len(bare) > len(best):
                best = bare
        if not best:
            known = ", ".join(sorted(self.mounts)) or "(none)"
            raise UnmappedS3UriError(f"{uri} is outside every local S3 mount: {known}")
        mount_path = next(Path(p) for m, p in self.mounts.items() if m.rstrip("/") == best)
        rest = uri[len(best):].lstrip("/")
        return mount_path / rest if rest else mount_path

    def owns_bucket(self, bucket: str) -> bool:
        return any(urlparse(mount).netloc == bucket for mount in self.mounts)

    def object_path(self, bucket: str, key: str) -> Path:
        return self.to_local(f"s3://{bucket}/{key}")
