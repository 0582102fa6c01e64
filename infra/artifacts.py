"""Upload content-addressed artifacts: an object whose key exists already is never sent again."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from infra.packaging import Artifact, sha256


@dataclass
class UploadReport:
    uploaded: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.uploaded)} uploaded, {len(self.present)} already present"


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return False
        raise
    return True


def missing(s3: Any, bucket: str, artifacts: Iterable[Artifact]) -> list[Artifact]:
    return [artifact for artifact in artifacts if not exists(s3, bucket, artifact.key)]


def upload(s3: Any, bucket: str, artifacts: Iterable[Artifact], kms_key_arn: str,
           dry_run: bool = False) -> UploadReport:
    """Put every artifact whose key is absent (SSE-KMS with the stack's key); report what was done."""
    report = UploadReport()
    for artifact in artifacts:
        if exists(s3, bucket, artifact.key):
            report.present.append(artifact.key)
            continue
        if not dry_run:
            s3.put_object(Bucket=bucket, Key=artifact.key, Body=artifact.body,
                          ContentType=artifact.content_type, ServerSideEncryption="aws:kms",
                          SSEKMSKeyId=kms_key_arn, Metadata={"sha256": sha256(artifact.body)})
        report.uploaded.append(artifact.key)
    return report
