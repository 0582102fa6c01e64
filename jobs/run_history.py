"""What earlier runs recorded, read back from their manifests (`LakeLayout.manifest`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from jobs.lake import LakeLayout
from jobs.storage import list_files, read_json


def manifests_of(layout: LakeLayout, pipeline: str, run_date: date) -> list[dict[str, Any]]:
    """Every manifest of `pipeline` for `run_date` (one per run attempt), in no particular order."""
    folder = layout.manifest(pipeline, run_date, "x").rsplit("/", 1)[0]
    return [read_json(path) for path in list_files(folder, (".json",))]  # a missing folder lists nothing


def latest_succeeded(layout: LakeLayout, pipeline: str, run_date: date,
                     recorded: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The latest SUCCEEDED manifest of `pipeline` for `run_date` that `recorded` accepts, if any."""
    succeeded = [m for m in manifests_of(layout, pipeline, run_date)
                 if m.get("status") == "SUCCEEDED" and recorded(m)]
    if not succeeded:
        return None
    return max(succeeded, key=lambda m: (str(m.get("finished_at", "")), str(m.get("run_id", ""))))


def previous_promoted_rows(layout: LakeLayout, dataset: str, run_date: date,
                           pipeline: str = "ingestion") -> int | None:
    """Rows of `dataset` promoted to silver by the latest SUCCEEDED run of the day before `run_date`,
    or None when that day has no such run (the first day, or a gap): the quality suites' row-count
    expectation then reports itself skipped rather than comparing against nothing."""
    latest = latest_succeeded(layout, pipeline, run_date - timedelta(days=1),
                              lambda m: dataset in m.get("datasets", {}))
    return None if latest is None else int(latest["datasets"][dataset]["silver_rows"])


def previous_table_rows(layout: LakeLayout, job: str, table: str, run_date: date,
                        pipeline: str = "ingestion") -> int | None:
    """Rows `job` wrote to `table` in the latest SUCCEEDED run of the day before `run_date` (None if none)."""
    latest = latest_succeeded(layout, pipeline, run_date - timedelta(days=1),
                              lambda m: table in m.get("jobs", {}).get(job, {}).get("tables", {}))
    return None if latest is None else int(latest["jobs"][job]["tables"][table]["rows_written"])
