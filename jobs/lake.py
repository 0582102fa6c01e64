"""Every path in the lake, derived in one place.

Locally the layers are folders under one root (`./lake` by default); on AWS each layer is its own
bucket and the jobs get the roots as arguments (`--bronze_root s3://...`). Nothing else in the code
builds a lake path by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

DEFAULT_LAKE_ROOT = "lake"
LAYERS = ("bronze", "silver", "gold", "quarantine", "ops")


def _join(root: str, *parts: str) -> str:
    return "/".join([root.rstrip("/"), *parts])


def _absolute(root: str) -> str:
    from jobs.environment import absolute_root  # the environment builds on the layout

    return absolute_root(root)


def partition_path(day: date) -> str:
    """The silver partition folder for an event date: `year=YYYY/month=MM/day=DD`."""
    return f"year={day:%Y}/month={day:%m}/day={day:%d}"


@dataclass(frozen=True)
class LakeLayout:
    bronze: str
    silver: str
    gold: str
    quarantine: str
    ops: str
    catalog: str = ""  # the embedded Iceberg catalog (local runs); from_root sets it

    @classmethod
    def from_root(cls, root: str = DEFAULT_LAKE_ROOT) -> LakeLayout:
        """Local roots are made absolute: Spark and Hadoop read a relative `file:` path wrongly."""
        root = _absolute(str(root)).rstrip("/") or "/"
        return cls(**{layer: _join(root, layer) for layer in LAYERS}, catalog=_join(root, "catalog"))

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> LakeLayout:
        """`--lake_root` (local) or per-layer `--bronze_root` ... `--ops_root` (AWS) job arguments."""
        base = cls.from_root(str(args.get("lake_root") or DEFAULT_LAKE_ROOT))
        overrides = {layer: _absolute(args[f"{layer}_root"]) for layer in (*LAYERS, "catalog")
                     if args.get(f"{layer}_root")}
        return cls(**{**base.__dict__, **overrides})

    def as_args(self) -> dict[str, str]:
        return {f"--{layer}_root": getattr(self, layer) for layer in (*LAYERS, "catalog")}

    # bronze
    def bronze_dataset(self, dataset: str) -> str:
        return _join(self.bronze, dataset)

    def bronze_ingest(self, dataset: str, ingest_date: date) -> str:
        return _join(self.bronze, dataset, f"ingest_date={ingest_date:%Y-%m-%d}")

    # silver / gold
    def silver_table(self, dataset: str) -> str:
        return _join(self.silver, dataset)

    def gold_table(self, table: str) -> str:
        return _join(self.gold, table)

    def sagemaker_channel(self, table: str, as_of: str, split: str) -> str:
        """Files exported from a gold table for a SageMaker File-mode channel (SageMaker reads files,
        not tables): `<gold>/sagemaker/<table>/as_of_date=D/split=S/`, replaced whole per run date."""
        return _join(self.gold, "sagemaker", table, f"as_of_date={as_of}", f"split={split}")

    def staging(self, table_root: str, run_id: str) -> str:
        """Where a run writes before publishing; `_`-prefixed so Spark readers skip it."""
        return _join(table_root, "_staging", run_id)

    # quarantine
    def quarantine_table(self, dataset: str) -> str:
        return _join(self.quarantine, dataset)

    def quarantine_ingest(self, dataset: str, ingest_date: date) -> str:
        return _join(self.quarantine, dataset, f"ingest_date={ingest_date:%Y-%m-%d}")

    # ops: manifests, job reports, alerts, quality results, data docs
    def job_report(self, pipeline: str, run_date: date, run_id: str, name: str) -> str:
        return _join(self.ops, "runs", pipeline, f"run_date={run_date:%Y-%m-%d}", run_id, f"{name}.json")

    def run_reports_dir(self, pipeline: str, run_date: date, run_id: str) -> str:
        return _join(self.ops, "runs", pipeline, f"run_date={run_date:%Y-%m-%d}", run_id)

    def manifest(self, pipeline: str, run_date: date, run_id: str) -> str:
        return _join(self.ops, "manifests", pipeline, f"run_date={run_date:%Y-%m-%d}", f"{run_id}.json")

    def manifests_root(self) -> str:
        return _join(self.ops, "manifests")

    def alerts(self) -> str:
        return _join(self.ops, "alerts")

    # ops: feature drift reports
    def drift_report(self, day: date, source: str) -> str:
        return _join(self.ops, "drift", f"event_date={day:%Y-%m-%d}", f"source={source}", "report.html")

    def lineage_root(self) -> str:
        """OpenLineage events written by the default (file) transport (jobs/lineage/transport.py)."""
        return _join(self.ops, "lineage", "events")

    def lineage_events(self, pipeline: str, run_date: str, run_id: str) -> str:
        return _join(self.lineage_root(), pipeline, f"run_date={run_date}", run_id)

    # ops: the model registry (one folder per model, one sub-folder per trained version)
    def model_registry(self, model_name: str) -> str:
        return _join(self.ops, "models", model_name)

    def model_version(self, model_name: str, version: str) -> str:
        """`<registry>/<version>/`: SageMaker's output, model.joblib, metrics.json, decision.json."""
        return _join(self.model_registry(model_name), version)

    def deployed_model_pointer(self, model_name: str) -> str:
        """`deployed.json`: which version the endpoint serves (written only after a deployment)."""
        return _join(self.model_registry(model_name), "deployed.json")

    def drift_verdict(self, model_name: str, day: date | None = None) -> str:
        """`<registry>/drift/<D>.json`: a date's drift verdict (batch inference's Choice reads it);
        `<registry>/drift/latest.json` without a date: the newest one (training's Choices read it)."""
        return _join(self.model_registry(model_name), "drift", f"{day:%Y-%m-%d}.json" if day else "latest.json")

    def deployed_model_artifact(self, model_name: str) -> str:
        """The deployed version's `model.tar.gz` at a stable location (batch inference reads it)."""
        return _join(self.model_registry(model_name), "deployed", "model.tar.gz")
