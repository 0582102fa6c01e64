"""`lakehouse quality --lake-root DIR --date YYYY-MM-DD`: the stored results of a run as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jobs.lake import LakeLayout
from jobs.quality import store
from jobs.text_table import render_table

COLUMNS = ("layer", "suite", "run id", "status", "evaluated", "unsuccessful", "fail", "warn",
           "quarantined rows", "skipped", "failing expectations")
NUMBERS = ("evaluated", "unsuccessful", "fail", "warn", "quarantined rows", "skipped")
MAX_LIST_CHARS = 80


def _listing(labels: list[str]) -> str:
    text = ", ".join(labels) or "-"
    return text if len(text) <= MAX_LIST_CHARS else text[: MAX_LIST_CHARS - 3] + "..."


def result_row(document: dict[str, Any]) -> tuple[str, ...]:
    meta = store.gate_meta(document)
    summary = meta.get("summary") or {}
    failing = [*summary.get("fail", []), *summary.get("warnings", []), *summary.get("quarantined_by_reason", {})]
    return (
        str(meta.get("layer", "?")),
        str(meta.get("dataset", document.get("suite_name", "?"))),
        str(meta.get("run_id", "?")),
        str(meta.get("gate_status", "?")),
        str(summary.get("evaluated", "?")),
        str(summary.get("failed", "?")),
        str(len(summary.get("fail", []))),
        str(len(summary.get("warnings", []))),
        f"{summary.get('quarantined_rows', 0):,}",
        str(len(summary.get("skipped", []))),
        _listing([label.removeprefix("expectation:") for label in failing]),
    )


def quality_table(lake_root: Path, run_date: str, ops_root: str | None = None) -> str:
    """Every stored validation result of `run_date` (all layers and suites) as a text table."""
    ops = ops_root or LakeLayout.from_root(str(lake_root)).ops
    documents = store.results_for_run_date(ops, run_date)
    if not documents:
        return f"no quality results stored for run date {run_date} under {store.results_root(ops)}"
    header = f"quality results for run date {run_date} ({len(documents)} validation(s))"
    return header + "\n" + render_table(COLUMNS, [result_row(d) for d in documents], right=NUMBERS)
