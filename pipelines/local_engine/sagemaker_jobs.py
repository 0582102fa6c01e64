"""Running SageMaker jobs locally with SageMaker's own contracts.

Training (script mode, the scikit-learn container's contract): the entry point named by the
`sagemaker_program` hyperparameter runs from the `sagemaker_submit_directory` source directory
as `python <program> --<hyperparameter> <value> ...`, in a separate process, with each channel's
files copied under `input/data/<channel>/` and SageMaker's environment (SM_MODEL_DIR,
SM_CHANNEL_<NAME>, SM_CHANNELS, SM_OUTPUT_DATA_DIR, SM_OUTPUT_DIR, SM_HPS, SM_HP_<NAME>,
SM_TRAINING_ENV, TRAINING_JOB_NAME, ...). A non-zero exit fails the job with
`AlgorithmError: <the script's /opt/ml/output/failure, or its last output lines>`; MaxRuntimeInSeconds
stops it. On success the model directory becomes `<S3OutputPath>/<job>/output/model.tar.gz` (and
the output data directory `output.tar.gz`); the MetricDefinitions regexes are applied to the
output, as SageMaker does with the job's logs, giving FinalMetricDataList.

Transform (the inference handler contract): the model's `ModelDataUrl` archive is unpacked into a
model directory, the `SAGEMAKER_PROGRAM` module of `SAGEMAKER_SUBMIT_DIRECTORY` is imported,
`model_fn(model_dir)` is called once, then `input_fn` → `predict_fn` → `output_fn` per mini-batch
of each input file (SplitType Line, MultiRecord up to MaxPayloadInMB or SingleRecord), and each
file's results are written to `<S3OutputPath>/<file>.out` (AssembleWith Line).

Both read and write S3 URIs through a `LocalS3` mount table. Only the scikit-learn image is
implemented; another image fails the job saying so. The local "instance" has `cpus` CPUs
(SM_NUM_CPUS, OMP_NUM_THREADS): on a machine shared with Spark, OpenMP threads that spin waiting
for busy cores made a small fit 15x slower.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pipelines.local_engine.sagemaker_paths import LocalS3
from pipelines.sagemaker_image import SKLEARN_IMAGE_NAME

SKLEARN_IMAGE = re.compile(re.escape(SKLEARN_IMAGE_NAME))
DEFAULT_MAX_RUNTIME_SECONDS = 24 * 3600
DEFAULT_MAX_PAYLOAD_MB = 6
_OUTPUT_TAIL_LINES = 8


class SageMakerJobError(Exception):
    """A local SageMaker job failed; `reason` is its FailureReason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class SageMakerRun:
    """One local SageMaker job as the engine saw it (for assertions and debugging)."""

    kind: str  # "training" | "transform"
    name: str
    status: str  # Completed | Failed | Stopped
    failure_reason: str | None = None
    seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    log_path: str | None = None
    outputs: list[str] = field(default_factory=list)


def _decoded(value: str) -> Any:
    """Hyperparameter values are strings; the SageMaker toolkit JSON-decodes them when it can."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


def _require_sklearn_image(image: str | None) -> None:
    if not image or not SKLEARN_IMAGE.search(image):
        raise SageMakerJobError(
            f"ClientError: the local SageMaker runs only the scikit-learn container's script mode "
            f"(an image named {SKLEARN_IMAGE_NAME}); got image {image!r}")


def _copy_into(source: Path, target: Path, uri: str) -> None:
    """SageMaker File mode: every object under the prefix, relative folders kept."""
    if source.is_dir():
        files = [p for p in source.rglob("*") if p.is_file()]
        if not files:
            raise SageMakerJobError(f"ClientError: Data download failed: No S3 objects found under S3 URL \"{uri}\"")
        for path in files:
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, destination)
    elif source.is_file():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / source.name)
    else:
        raise SageMakerJobError(f"ClientError: Data download failed: No S3 objects found under S3 URL \"{uri}\"")


def _pack(folder: Path, archive: Path) -> None:
    archive.parent.mkdir(parents=True, exist_ok=True)
    temporary = archive.with_name(f".{archive.name}.{uuid.uuid4().hex}.tmp")
    with tarfile.open(temporary, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(folder)), recursive=False)
    os.replace(temporary, archive)


def _source_dir(s3: LocalS3, uri: str, scratch: Path) -> Path:
    """The submit directory: a mounted folder as is, or a sourcedir.tar.gz unpacked."""
    local = s3.to_local(uri)
    if local.is_dir():
        return local
    if local.is_file() and local.name.endswith((".tar.gz", ".tgz")):
        target = scratch / "code"
        with tarfile.open(local, "r:gz") as tar:
            tar.extractall(target, filter="data")
        return target
    raise SageMakerJobError(f"ClientError: the source directory {uri} does not exist (local path {local})")


def parse_metrics(output: str, definitions: list[dict[str, str]]) -> dict[str, float]:
    """The last value each MetricDefinitions regex captured in the output (FinalMetricDataList)."""
    found: dict[str, float] = {}
    for definition in definitions or []:
        pattern = re.compile(definition["Regex"])
        for match in pattern.finditer(output):
            try:
                found[definition["Name"]] = float(match.group(1))
            except (IndexError, ValueError):
                continue
    return found


class LocalSageMaker:
    """Runs training and transform jobs described by their CreateTrainingJob/CreateTransformJob
    requests; `log_dir` keeps each job's output (what CloudWatch Logs would hold)."""

    def __init__(self, s3: LocalS3, log_dir: Path, python: str = sys.executable, cpus: int = 1):
        self.s3 = s3
        self.log_dir = Path(log_dir)
        self.python = python
        self.cpus = cpus

    # -- training --------------------------------------------------------------------------------

    def train(self, name: str, request: Mapping[str, Any]) -> SageMakerRun:
        started = time.monotonic()
        log_path = self.log_dir / f"{name}.log"
        try:
            with tempfile.TemporaryDirectory(prefix=f"sm-{name}-") as scratch:
                outputs, metrics = self._train_in(Path(scratch), name, request, log_path)
        except SageMakerJobError as failed:
            status = "Stopped" if failed.reason.startswith("MaxRuntimeExceeded") else "Failed"
            return SageMakerRun("training", name, status, failed.reason, time.monotonic() - started,
                                log_path=str(log_path) if log_path.exists() else None)
        return SageMakerRun("training", name, "Completed", None, time.monotonic() - started, metrics,
                            str(log_path), outputs)

    def _train_in(self, root: Path, name: str, request: Mapping[str, Any],
                  log_path: Path) -> tuple[list[str], dict[str, float]]:
        algorithm = request.get("AlgorithmSpecification") or {}
        _require_sklearn_image(algorithm.get("TrainingImage"))
        hyperparameters = {k: str(v) for k, v in (request.get("HyperParameters") or {}).items()}
        program = _decoded(hyperparameters.get("sagemaker_program", ""))
        submit = _decoded(hyperparameters.get("sagemaker_submit_directory", ""))
        if not program or not submit:
            raise SageMakerJobError("ClientError: script mode needs the sagemaker_program and "
                                    "sagemaker_submit_directory hyperparameters")
        code = _source_dir(self.s3, str(submit), root)
        if not (code / str(program)).is_file():
            raise SageMakerJobError(f"ClientError: {program} is not in the source directory {submit}")

        ml = root / "opt" / "ml"
        input_dir, model_dir, output_dir = ml / "input", ml / "model", ml / "output"
        output_data = output_dir / "data"
        for folder in (input_dir / "config", model_dir, output_data):
            folder.mkdir(parents=True, exist_ok=True)
        channels = []
        for channel in request.get("InputDataConfig") or []:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            _copy_into(self.s3.to_local(uri), input_dir / "data" / channel["ChannelName"], uri)
            channels.append(channel["ChannelName"])
        user_hps = {k: _decoded(v) for k, v in hyperparameters.items() if not k.startswith("sagemaker_")}
        resource = request.get("ResourceConfig") or {"InstanceType": "ml.m5.large", "InstanceCount": 1}
        for file_name, content in (("hyperparameters.json", hyperparameters),
                                   ("inputdataconfig.json", {c["ChannelName"]: {k: v for k, v in c.items()
                                                                                  if k != "DataSource"}
                                                             for c in request.get("InputDataConfig") or []}),
                                   ("resourceconfig.json", {"current_host": "algo-1", "hosts": ["algo-1"]})):
            (input_dir / "config" / file_name).write_text(json.dumps(content))
        environment = {
            **os.environ,
            "TRAINING_JOB_NAME": name,
            "SM_TRAINING_ENV": json.dumps({"job_name": name, "hyperparameters": user_hps, "channel_input_dirs": {
                c: str(input_dir / "data" / c) for c in channels}, "model_dir": str(model_dir),
                "output_data_dir": str(output_data), "user_entry_point": program, "resource_config": resource}),
            "SM_MODEL_DIR": str(model_dir),
            "SM_INPUT_DIR": str(input_dir),
            "SM_INPUT_CONFIG_DIR": str(input_dir / "config"),
            "SM_OUTPUT_DIR": str(output_dir),
            "SM_OUTPUT_DATA_DIR": str(output_data),
            "SM_CHANNELS": json.dumps(sorted(channels)),
            "SM_HPS": json.dumps(user_hps),
            "SM_USER_ENTRY_POINT": str(program),
            "SM_MODULE_DIR": str(submit),
            "SM_CURRENT_HOST": "algo-1",
            "SM_HOSTS": json.dumps(["algo-1"]),
            "SM_NUM_CPUS": str(self.cpus),
            "OMP_NUM_THREADS": str(self.cpus),
            "SM_NUM_GPUS": "0",
            "PYTHONPATH": os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "PYTHONUNBUFFERED": "1",
        }
        environment.update({f"SM_CHANNEL_{c.upper()}": str(input_dir / "data" / c) for c in channels})
        environment.update({f"SM_HP_{k.upper()}": str(v) for k, v in user_hps.items()})
        arguments = [token for key, value in user_hps.items()
                     for token in (f"--{key}", value if isinstance(value, str) else json.dumps(value))]
        max_runtime = int((request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds")
                          or DEFAULT_MAX_RUNTIME_SECONDS)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            completed = subprocess.run([self.python, str(program), *arguments], cwd=code, env=environment,
                                       capture_output=True, text=True, timeout=max_runtime, check=False)
            output = completed.stdout + completed.stderr
        except subprocess.TimeoutExpired as expired:
            output = (expired.stdout or "") + (expired.stderr or "") if isinstance(expired.stdout, str) else ""
            log_path.write_text(output)
            raise SageMakerJobError(f"MaxRuntimeExceeded: Training job exceeded MaxRuntimeInSeconds "
                                    f"({max_runtime} s)") from None
        log_path.write_text(output)
        if completed.returncode != 0:
            failure_file = output_dir / "failure"
            detail = failure_file.read_text().strip() if failure_file.exists() else ""
            if not detail:
                detail = "\n".join(output.strip().splitlines()[-_OUTPUT_TAIL_LINES:])
            raise SageMakerJobError(f"AlgorithmError: {detail} (exit code {completed.returncode}; "
                                    f"log: {log_path})")
        destination = str(request["OutputDataConfig"]["S3OutputPath"]).rstrip("/") + f"/{name}/output"
        model_archive = self.s3.to_local(f"{destination}/model.tar.gz")
        _pack(model_dir, model_archive)
        _pack(output_data, self.s3.to_local(f"{destination}/output.tar.gz"))
        return [f"{destination}/model.tar.gz"], parse_metrics(output, algorithm.get("MetricDefinitions") or [])

    # -- batch transform -------------------------------------------------------------------------

    def transform(self, name: str, request: Mapping[str, Any], model: Mapping[str, Any]) -> SageMakerRun:
        started = time.monotonic()
        try:
            with tempfile.TemporaryDirectory(prefix=f"sm-{name}-") as scratch:
                outputs = self._transform_in(Path(scratch), request, model)
        except SageMakerJobError as failed:
            return SageMakerRun("transform", name, "Failed", failed.reason, time.monotonic() - started)
        return SageMakerRun("transform", name, "Completed", None, time.monotonic() - started, outputs=outputs)

    def _transform_in(self, root: Path, request: Mapping[str, Any], model: Mapping[str, Any]) -> list[str]:
        container = model.get("PrimaryContainer") or {}
        _require_sklearn_image(container.get("Image"))
        environment = container.get("Environment") or {}
        program, submit = environment.get("SAGEMAKER_PROGRAM"), environment.get("SAGEMAKER_SUBMIT_DIRECTORY")
        if not program or not submit:
            raise SageMakerJobError("ClientError: the model's container needs SAGEMAKER_PROGRAM and "
                                    "SAGEMAKER_SUBMIT_DIRECTORY in its Environment")
        model_dir = root / "model"
        model_data = str(container.get("ModelDataUrl") or "")
        archive = self.s3.to_local(model_data) if model_data else None
        if archive is None or not archive.is_file():
            raise SageMakerJobError(f"ClientError: model data {model_data or '(none)'} does not exist")
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(model_dir, filter="data")
        handlers = _load_handlers(_source_dir(self.s3, submit, root), str(program), root.name)
        try:
            loaded = handlers.model_fn(str(model_dir))
            return self._score_files(request, handlers, loaded)
        except SageMakerJobError:
            raise
        except Exception as exc:
            raise SageMakerJobError(f"AlgorithmError: {type(exc).__name__}: {exc}") from exc

    def _score_files(self, request: Mapping[str, Any], handlers: ModuleType, loaded: Any) -> list[str]:
        source = request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        content_type = request["TransformInput"].get("ContentType", "application/jsonlines")
        split_lines = request["TransformInput"].get("SplitType", "None") == "Line"
        single = request.get("BatchStrategy", "MultiRecord") == "SingleRecord"
        max_bytes = int(request.get("MaxPayloadInMB") or DEFAULT_MAX_PAYLOAD_MB) * 1024 * 1024
        accept = request["TransformOutput"].get("Accept", content_type)
        destination = str(request["TransformOutput"]["S3OutputPath"]).rstrip("/")
        base = self.s3.to_local(source)
        files = ([p for p in sorted(base.rglob("*")) if p.is_file() and not p.name.startswith(".")]
                 if base.is_dir() else [base] if base.is_file() else [])
        if not files:
            raise SageMakerJobError(f"ClientError: No S3 objects found under S3 URL \"{source}\"")
        written = []
        for path in files:
            text = path.read_text(encoding="utf-8")
            records = [line for line in text.splitlines() if line.strip()] if split_lines else [text]
            results = []
            for body in _mini_batches(records, max_bytes, single):
                if len(body.encode("utf-8")) > max_bytes:
                    raise SageMakerJobError(f"ClientError: a record of {path.name} exceeds MaxPayloadInMB")
                result = handlers.output_fn(handlers.predict_fn(handlers.input_fn(body, content_type), loaded), accept)
                result = result[0] if isinstance(result, tuple) else result
                result = result.decode("utf-8") if isinstance(result, bytes) else str(result)
                results.append(result if result.endswith("\n") or not result else result + "\n")
            relative = path.relative_to(base).as_posix() if base.is_dir() else path.name
            target_uri = f"{destination}/{relative}.out"
            target = self.s3.to_local(target_uri)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text("".join(results), encoding="utf-8")
            written.append(target_uri)
        return written


def _mini_batches(records: list[str], max_bytes: int, single: bool) -> Iterator[str]:
    if single:
        yield from records
        return
    batch: list[str] = []
    size = 0
    for record in records:
        length = len(record.encode("utf-8")) + 1
        if batch and size + length > max_bytes:
            yield "\n".join(batch) + "\n"
            batch, size = [], 0
        batch.append(record)
        size += length
    if batch:
        yield "\n".join(batch) + "\n"


def _load_handlers(code: Path, program: str, unique: str) -> ModuleType:
    """Import the inference module from the source directory (its siblings importable, as in the
    container); `model_fn`, `input_fn`, `predict_fn` and `output_fn` are required."""
    path = code / program
    if not path.is_file():
        raise SageMakerJobError(f"ClientError: {program} is not in the source directory {code}")
    spec = importlib.util.spec_from_file_location(f"_sagemaker_inference_{unique.replace('-', '_')}", path)
    if spec is None or spec.loader is None:
        raise SageMakerJobError(f"ClientError: cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(code))
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise SageMakerJobError(f"AlgorithmError: importing {program} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(code))
    missing = [h for h in ("model_fn", "input_fn", "predict_fn", "output_fn") if not callable(getattr(module, h, None))]
    if missing:
        raise SageMakerJobError(f"ClientError: {program} does not define {', '.join(missing)}")
    return module
