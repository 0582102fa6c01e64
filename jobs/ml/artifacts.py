"""Model artifacts in the lake's registry folder: SageMaker's `model.tar.gz` (the model directory,
packed with its files at the archive root). Bytes in and out go through `jobs.storage`."""

from __future__ import annotations

import io
import tarfile

from jobs.lake import LakeLayout
from jobs.storage import exists

MODEL_ARCHIVE = "model.tar.gz"
DEFAULT_MODEL_NAME = "fraud_model"  # the registry folder; the state machines name the same one


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
