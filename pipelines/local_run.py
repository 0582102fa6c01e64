"""Run a registered pipeline locally: its checked-in state machine on moto's interpreter, its Glue
tasks on the local job functions in one shared SparkSession."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jobs.contracts import list_datasets
from jobs.lake import LakeLayout
from jobs.storage import list_files, read_json
from pipelines.local_engine import ExecutionResult, LocalStepFunctions
from pipelines.registry import PIPELINES, PipelineSpec, glue_job_for_name


class JobFailedError(RuntimeError):
    """A job failed; the message names the job and its arguments (dataset, date) before the reason."""


class LocalGlueRunner:
    """Routes a Glue job run to `jobs.<module>.run(spark, args)` with the lake root added."""

    def __init__(self, lake_root: Path, spark_factory: Any = None):
        self.lake_root = lake_root
        self._spark_factory = spark_factory
        self._spark: Any = None

    @property
    def spark(self) -> Any:
        if self._spark is None:
            if self._spark_factory is not None:
                self._spark = self._spark_factory()
            else:
                from jobs.runtime import build_local_spark

                self._spark = build_local_spark(app_name="lakehouse-local")
        return self._spark

    def __call__(self, job_name: str, arguments: dict[str, str]) -> None:
        spec = glue_job_for_name(job_name)
        args: dict[str, Any] = {k.removeprefix("--"): v for k, v in arguments.items()}
        args.setdefault("lake_root", str(self.lake_root))
        module = importlib.import_module(spec.module)
        spark = self.spark if spec.needs_spark else None
        try:
            module.run(spark, args)
        except Exception as exc:
            shown = ", ".join(f"{k}={v}" for k, v in args.items() if k in ("dataset", "run_date", "status"))
            raise JobFailedError(f"job {spec.name} ({shown}) failed: {type(exc).__name__}: {exc}") from exc


@dataclass
class PipelineRun:
    pipeline: str
    run_date: date
    run_id: str
    status: str
    manifest_path: str | None
    manifest: dict[str, Any] | None
    execution: ExecutionResult
    alerts: list[str] = field(default_factory=list)

    @property
    def error_message(self) -> str | None:
        if self.status == "SUCCEEDED":
            return None
        if self.manifest and self.manifest.get("error"):
            return str(self.manifest["error"])
        return f"{self.execution.error}: {self.execution.cause}"


def execution_input(spec: PipelineSpec, run_date: date, run_id: str) -> dict[str, Any]:
    """What the EventBridge schedule sends on AWS (built from the registry there too)."""
    payload: dict[str, Any] = {"run_date": run_date.isoformat(), "run_id": run_id, "pipeline": spec.name}
    if spec.name == "ingestion":
        payload["datasets"] = list_datasets()
    return payload


def previous_manifests(layout: LakeLayout, pipeline: str, run_date: date) -> list[dict[str, Any]]:
    folder = layout.manifest(pipeline, run_date, "x").rsplit("/", 1)[0]
    return [read_json(path) for path in list_files(folder, (".json",))]


def next_run_id(layout: LakeLayout, pipeline: str, run_date: date) -> str:
    """`<pipeline>-<date>` for the first attempt, then `-attempt-N`: deterministic and unique."""
    attempts = len(previous_manifests(layout, pipeline, run_date))
    base = f"{pipeline}-{run_date.isoformat()}"
    return base if attempts == 0 else f"{base}-attempt-{attempts + 1}"


def has_succeeded(layout: LakeLayout, pipeline: str, run_date: date) -> bool:
    return any(m.get("status") == "SUCCEEDED" for m in previous_manifests(layout, pipeline, run_date))


class LocalPipelines:
    """One engine (moto backend) and one SparkSession for any number of pipeline runs."""

    def __init__(self, lake_root: Path, spark_factory: Any = None, **engine_options: Any):
        self.lake_root = Path(lake_root)
        self.layout = LakeLayout.from_root(str(self.lake_root))
        self.runner = LocalGlueRunner(self.lake_root, spark_factory)
        self.engine = LocalStepFunctions(self.runner, Path(self.layout.alerts()), **engine_options)

    def __enter__(self) -> LocalPipelines:
        self.engine.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.engine.__exit__(*exc_info)

    def run(self, pipeline: str, run_date: date, run_id: str | None = None) -> PipelineRun:
        spec = PIPELINES[pipeline]
        run_id = run_id or next_run_id(self.layout, pipeline, run_date)
        substitutions = dict(spec.placeholders)
        result = self.engine.run(spec.definition_path, substitutions, execution_input(spec, run_date, run_id),
                                 execution_name=run_id, state_machine_name=f"lakehouse-{pipeline}")
        manifest_path = self.layout.manifest(pipeline, run_date, run_id)
        manifest = read_json(manifest_path) if Path(manifest_path).exists() else None
        return PipelineRun(pipeline, run_date, run_id, result.status, manifest_path if manifest else None, manifest,
                           result, [str(p) for p in result.alerts])


@contextmanager
def local_pipelines(lake_root: Path, **options: Any) -> Iterator[LocalPipelines]:
    with LocalPipelines(lake_root, **options) as pipelines:
        yield pipelines
