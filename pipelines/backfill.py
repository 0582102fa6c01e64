"""Backfills: a pipeline over a date range, locally, in date order.

Execution names are deterministic (`<pipeline>-<date>`, then `-attempt-N`), and a date whose
manifest says SUCCEEDED is skipped unless forced, so running the same backfill again finishes only
what is missing. Dates run oldest first and the backfill stops at the first failure: later dates
deduplicate against what earlier ones published.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from jobs.lake import LakeLayout
from pipelines.local_run import has_succeeded, next_run_id


@dataclass
class DateOutcome:
    run_date: date
    status: str  # SUCCEEDED | FAILED | SKIPPED | PLANNED | NOT RUN
    run_id: str = ""
    detail: str = ""


def plan(pipeline: str, lake_root: Path, dates: list[date], force: bool) -> list[DateOutcome]:
    layout = LakeLayout.from_root(str(lake_root))
    outcomes = []
    for day in dates:
        if not force and has_succeeded(layout, pipeline, day):
            outcomes.append(DateOutcome(day, "SKIPPED", detail="already succeeded (use --force to re-run)"))
        else:
            outcomes.append(DateOutcome(day, "PLANNED", next_run_id(layout, pipeline, day)))
    return outcomes


def render_table(outcomes: list[DateOutcome]) -> str:
    lines = [f"{'date':<12} {'status':<10} {'run id':<36} detail"]
    lines += [f"{o.run_date.isoformat():<12} {o.status:<10} {o.run_id:<36} {o.detail}" for o in outcomes]
    return "\n".join(lines)


def backfill(pipeline: str, lake_root: Path, dates: list[date], force: bool = False, dry_run: bool = False) -> int:
    outcomes = plan(pipeline, lake_root, dates, force)
    todo = [o for o in outcomes if o.status == "PLANNED"]
    if dry_run or not todo:
        print(render_table(outcomes))
        return 0
    from tqdm import tqdm

    from pipelines.local_run import local_pipelines
    from pipelines.summary import manifest_lines

    failed = False
    with local_pipelines(lake_root) as pipelines:
        for outcome in tqdm(todo, desc=f"{pipeline} backfill", unit="date", file=sys.stderr, disable=None):
            if failed:
                outcome.status, outcome.detail = "NOT RUN", "an earlier date failed"
                continue
            run = pipelines.run(pipeline, outcome.run_date, outcome.run_id)
            outcome.status = run.status
            if run.manifest:
                tqdm.write("\n".join(manifest_lines(run.manifest)), file=sys.stderr)
            if run.status != "SUCCEEDED":
                failed = True
                outcome.detail = (run.error_message or "")[:300]
                for alert in run.alerts:
                    outcome.detail += f" (alert: {alert})"
    print(render_table(outcomes))
    return 1 if failed else 0
