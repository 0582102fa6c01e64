"""Model artifacts in the lake's registry folder: bytes in and out (local path or s3:// URI) and
SageMaker's `model.tar.gz` (the model directory, packed with its files at the archive root)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jobs.lake import LakeLayout
from jobs.storage import exists, is_s3

MODEL_ARCHIVE = "model.tar.gz"
DEFAULT_MODEL_NAME = "fraud_model"  # the registry folder; the state machines name the same one


def _s3(uri: str) -> tuple[Any, str, str]:
    import boto3

    parsed = urlparse(uri)
    client = boto3.client("s3", endpoint_url=os.environ.get("AWS_ENDPOINT_URL_S3"))
    return client, parsed.netloc, parsed.path.lstrip("/")


def read_bytes(path: str) -> bytes:
    if is_s3(path):
        client, bucket, key = _s3(path)
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()
    return Path(path).read_bytes()


def write_bytes(path: str, data: bytes) -> None:
    """Whole-object write; locally through a temporary file and a rename (never half written)."""
    if is_s3(path):
        client, bucket, key = _s3(path)
        client.put_object(Bucket=bucket, Key=key, Body=data)
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, target)


def training_output_archive(layout: LakeLayout, model_name: str, version: str, training_job_name: str) -> str:
    """SageMaker's `<S3OutputPath>/<TrainingJobName>/output/model.tar.gz`, with S3OutputPath the
    version folder (as the training state machine sets it)."""
    return f"{layout.model_version(model_name, version)}/{training_job_name}/output/{MODEL_ARCHIVE}"


def extract_member(archive: bytes, member: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        names = {name.removeprefix("./"): name for name in tar.getnames()}
        if member not in names:
            raise FileNotFoundError(f"{member} not in the model archive (it holds {sorted(names)})")
        handle = tar.extractfile(names[member])
        if handle is None:
            raise FileNotFoundError(f"{member} in the model archive is not a file")
        return handle.read()


def require(path: str, what: str) -> str:
    if not exists(path):
        raise FileNotFoundError(f"{what} not found at {path}")
    return path
