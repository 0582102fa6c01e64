"""What a job run read and wrote, taken from the report its `run()` returns (no job knows about lineage).

One extractor per job whose report names datasets; a job without one (maintenance, finalize_run) still
gets START/COMPLETE/FAIL events, with no datasets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from jobs.lake import LakeLayout
from jobs.lineage.addresses import file_address, model_address, table_address, table_display


@dataclass(frozen=True)
class DatasetRef:
    """A dataset as lineage sees it. `version`: the Iceberg snapshot id (a model's version);
    `partitions`: `column=value` entries read or written, when the job names them."""

    namespace: str
    name: str
    kind: str  # table | file | model
    version: str | None = None
    partitions: tuple[str, ...] = ()
    quality: dict[str, Any] | None = None  # the quality gate's summary for this dataset
    pii: dict[str, Any] | None = None  # the PII actions applied (silver only)
    details: dict[str, Any] = field(default_factory=dict)  # other facts worth keeping (a model's decision)


@dataclass(frozen=True)
class RunDatasets:
    inputs: tuple[DatasetRef, ...] = ()
    outputs: tuple[DatasetRef, ...] = ()


def _version(snapshot: Any) -> str | None:
    return None if snapshot is None else str(snapshot)


def table_ref(layout: LakeLayout, display: str, snapshot: Any = None, **extra: Any) -> DatasetRef:
    namespace, name = table_address(layout, display)
    return DatasetRef(namespace, name, "table", _version(snapshot), **extra)


def _partitions(entry: dict[str, Any]) -> tuple[str, ...]:
    if isinstance(entry.get("partitions"), dict) and entry.get("partition_column"):
        return tuple(f"{entry['partition_column']}={value}" for value in sorted(entry["partitions"]))
    return (str(entry["partition"]),) if entry.get("partition") else ()


def _quality_for(quality: dict[str, Any] | None, display: str) -> dict[str, Any] | None:
    """The gate summary of `display` from a report's `quality` (one summary, or one per table)."""
    if not isinstance(quality, dict):
        return None
    layer, name = display.split(".", 1)
    candidates = [quality, *[v for v in quality.values() if isinstance(v, dict)]]
    return next((q for q in candidates if q.get("layer") == layer and q.get("dataset") == name), None)


def written_tables(layout: LakeLayout, report: dict[str, Any]) -> list[DatasetRef]:
    """The report's `tables`: each with the snapshot it published and the partitions it wrote."""
    refs = []
    for key, entry in sorted((report.get("tables") or {}).items()):
        if not isinstance(entry, dict):
            continue
        location = entry.get("location") or entry.get("path")
        display = entry.get("table") or (table_display(layout, location) if location else None)
        if display is None:
            raise ValueError(f"job {report.get('job')}: table {key!r} in its report has neither a name nor a path")
        refs.append(table_ref(layout, display, entry.get("snapshot_after"), partitions=_partitions(entry),
                              quality=_quality_for(report.get("quality"), display)))
    return refs


def _snapshot_inputs(layout: LakeLayout, snapshots: dict[str, Any] | None,
                     partitions: dict[str, tuple[str, ...]] | None = None) -> list[DatasetRef]:
    partitions = partitions or {}
    return [table_ref(layout, display, snapshot, partitions=partitions.get(display, ()))
            for display, snapshot in sorted((snapshots or {}).items())]


def bronze_to_silver(layout: LakeLayout, report: dict[str, Any]) -> RunDatasets:
    inputs = [DatasetRef(*file_address(layout, path), "file") for path in report.get("bronze_files") or []]
    pii = report.get("pii") or {}
    outputs = []
    for ref in written_tables(layout, report):
        if ref.name.startswith("silver."):
            ref = DatasetRef(**{**ref.__dict__, "pii": {"policies": pii.get("policies") or {},
                                                        "discovery": pii.get("discovery") or []}})
        outputs.append(ref)
    return RunDatasets(tuple(inputs), tuple(outputs))


def silver_to_gold(layout: LakeLayout, report: dict[str, Any]) -> RunDatasets:
    inputs = [table_ref(layout, table_display(layout, entry["path"]), entry.get("snapshot"))
              for _, entry in sorted((report.get("inputs") or {}).items())]
    return RunDatasets(tuple(inputs), tuple(written_tables(layout, report)))


def feature_days(windows: dict[str, list[str]]) -> list[date]:
    """The customer_features as_of days a training set reads: from the day before its first training
    day to the day before its last held-out day (each row takes the previous day's features;
    jobs/training_set.run)."""
    first = date.fromisoformat(windows["train"][0]) - timedelta(days=1)
    last = date.fromisoformat(windows["holdout"][-1]) - timedelta(days=1)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def training_set(layout: LakeLayout, report: dict[str, Any]) -> RunDatasets:
    windows = report.get("windows") or {}
    partitions = {"gold.customer_features": tuple(f"as_of_date={d.isoformat()}" for d in feature_days(windows))} \
        if windows.get("train") and windows.get("holdout") else {}
    return RunDatasets(tuple(_snapshot_inputs(layout, report.get("input_snapshots"), partitions)),
                       tuple(written_tables(layout, report)))


def with_snapshot_inputs(layout: LakeLayout, report: dict[str, Any]) -> RunDatasets:
    """scoring_input, store_scores: the snapshots they read are in `input_snapshots`."""
    return RunDatasets(tuple(_snapshot_inputs(layout, report.get("input_snapshots"))),
                       tuple(written_tables(layout, report)))


def record_model(layout: LakeLayout, report: dict[str, Any]) -> RunDatasets:
    """A recorded model version: trained from the run's training set snapshot."""
    data = report.get("data") or {}
    inputs = [table_ref(layout, "gold.training_set", data["training_set_snapshot"])] \
        if data.get("training_set_snapshot") is not None else []
    model = DatasetRef(*model_address(layout, str(report["model_name"])), "model", str(report["version"]),
                       details={"decision": report.get("decision"), "metrics": report.get("metrics") or {},
                                "windows": data.get("windows")})
    return RunDatasets(tuple(inputs), (model,))


EXTRACTORS: dict[str, Callable[[LakeLayout, dict[str, Any]], RunDatasets]] = {
    "bronze_to_silver": bronze_to_silver,
    "silver_to_gold": silver_to_gold,
    "training_set": training_set,
    "scoring_input": with_snapshot_inputs,
    "store_scores": with_snapshot_inputs,
    "record_model": record_model,
}


def run_datasets(job: str, layout: LakeLayout, report: Any) -> RunDatasets:
    """The datasets of one job run, from its report (none for a job without an extractor)."""
    extractor = EXTRACTORS.get(job)
    if extractor is None or not isinstance(report, dict):
        return RunDatasets()
    return extractor(layout, report)


def names(refs: Iterable[DatasetRef]) -> list[str]:
    return [ref.name for ref in refs]
