"""Local backfills: deterministic names, skip what succeeded, resume after a failure or an
interruption, --force, --dry-run, --parallel.

The engine, the checked-in definitions and finalize_run (which writes the manifests that decide
what is skipped) are real; the Spark jobs are replaced at the Glue boundary by `QuickJobs`, which
records each call and fails the dates it is told to.
"""

from __future__ import annotations

import io
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from jobs import finalize_run
from jobs.lake import LakeLayout
from jobs.scoring_input import FILE_NAME, scoring_partition
from jobs.storage import write_json
from pipelines import cli
from pipelines.backfill import LocalTarget, backfill, progress_display
from pipelines.local_run import local_pipelines
from pipelines.registry import glue_job_for_name
from tests.test_batch_inference import deploy

DATES = [date(2024, 1, day) for day in range(1, 5)]


class QuickJobs:
    """The Glue boundary: `fail` maps a run date to how many runs of its jobs raise."""

    def __init__(self, lake_root: Path, fail: dict[str, int] | None = None, hold_seconds: float = 0.0):
        self.lake_root = lake_root
        self.layout = LakeLayout.from_root(str(lake_root))
        self.fail = dict(fail or {})
        self.hold_seconds = hold_seconds
        self.calls: list[tuple[str, str, str]] = []  # (job, run_date, run_id)
        self.active: list[tuple[float, float, str]] = []  # (start, end, run_date) of scoring jobs
        self._lock = threading.Lock()

    def __call__(self, job_name: str, arguments: dict[str, str]) -> None:
        name = glue_job_for_name(job_name).name
        args: dict[str, Any] = {k.removeprefix("--"): v for k, v in arguments.items()}
        args["lake_root"] = str(self.lake_root)
        with self._lock:
            self.calls.append((name, args["run_date"], args["run_id"]))
        if name == "finalize_run":
            finalize_run.run(None, args)
            return
        if self.fail.get(args["run_date"], 0) > 0:
            self.fail[args["run_date"]] -= 1
            raise RuntimeError(f"injected failure for {args['run_date']}")
        day = date.fromisoformat(args["run_date"])
        if name == "scoring_input":
            started = time.monotonic()
            folder = Path(scoring_partition(self.layout, day))
            folder.mkdir(parents=True, exist_ok=True)
            (folder / FILE_NAME).write_text(json.dumps({"transaction_id": f"T{day:%d}"}) + "\n")
            time.sleep(self.hold_seconds)  # long enough for concurrent dates to overlap
            with self._lock:
                self.active.append((started, time.monotonic(), args["run_date"]))
        if name == "feature_drift":  # batch inference's Choice reads the day's verdict next
            write_json(self.layout.drift_verdict("fraud_model", day), {"date": args["run_date"], "verdict": "ok"})
        if name in ("scoring_input", "store_scores", "silver_to_gold"):
            write_json(self.layout.job_report(args.get("pipeline", "ingestion"), day, args["run_id"], name),
                       {"job": name, "tables": {}})

    def dates_run(self, job: str) -> list[str]:
        return [run_date for name, run_date, _ in self.calls if name == job]


def quick_target(lake_root: Path, jobs: QuickJobs) -> LocalTarget:
    @contextmanager
    def pipelines(root: Path, **options: Any) -> Iterator[Any]:
        with local_pipelines(root, deterministic_jitter=True, **options) as local:
            local.engine.glue_runner = jobs
            yield local

    return LocalTarget(lake_root, pipelines_factory=pipelines)


def table_rows(text: str) -> dict[str, tuple[str, str]]:
    """date -> (status, run id) from the printed table, its columns where the header puts them."""
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("date"))
    status, run_id, seconds = header.index("status"), header.index("run id"), header.index("seconds")
    return {line[:status].strip(): (line[status:run_id].strip(), line[run_id:seconds].strip())
            for line in lines if line[:4].isdigit()}


def run_backfill(lake_root: Path, jobs: QuickJobs, dates: list[date] = DATES, pipeline: str = "ingestion",
                 **options: Any) -> tuple[int, dict[str, tuple[str, str]]]:
    out = io.StringIO()
    code = backfill(pipeline, lake_root, dates, target=quick_target(lake_root, jobs), out=out, **options)
    return code, table_rows(out.getvalue())


@pytest.mark.integration
def test_a_backfill_runs_every_date_in_order_under_deterministic_names(tmp_path: Path) -> None:
    jobs = QuickJobs(tmp_path)
    code, rows = run_backfill(tmp_path, jobs)

    assert code == 0
    assert rows == {d.isoformat(): ("SUCCEEDED", f"ingestion-{d.isoformat()}") for d in DATES}
    assert jobs.dates_run("silver_to_gold") == [d.isoformat() for d in DATES]
    layout = LakeLayout.from_root(str(tmp_path))
    assert all(Path(layout.manifest("ingestion", d, f"ingestion-{d.isoformat()}")).exists() for d in DATES)

    again = QuickJobs(tmp_path)
    code, rows = run_backfill(tmp_path, again)
    assert code == 0 and {status for status, _ in rows.values()} == {"SKIPPED"} and again.calls == []


@pytest.mark.integration
def test_a_failed_backfill_resumes_with_only_the_missing_dates(tmp_path: Path) -> None:
    jobs = QuickJobs(tmp_path, fail={"2024-01-03": 99})
    code, rows = run_backfill(tmp_path, jobs)

    assert code == 1
    assert [rows[d.isoformat()][0] for d in DATES] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "NOT RUN"]
    assert "2024-01-04" not in jobs.dates_run("bronze_to_silver")  # later dates depend on the failed one

    fixed = QuickJobs(tmp_path)
    code, rows = run_backfill(tmp_path, fixed, resume=True)
    assert code == 0
    assert rows == {"2024-01-01": ("SKIPPED", ""), "2024-01-02": ("SKIPPED", ""),
                    "2024-01-03": ("SUCCEEDED", "ingestion-2024-01-03-attempt-2"),
                    "2024-01-04": ("SUCCEEDED", "ingestion-2024-01-04")}
    assert sorted(set(fixed.dates_run("bronze_to_silver"))) == ["2024-01-03", "2024-01-04"]


@pytest.mark.integration
def test_an_interrupted_backfill_run_again_finishes_only_the_missing_dates(tmp_path: Path) -> None:
    first = QuickJobs(tmp_path)
    run_backfill(tmp_path, first, DATES[:2])  # stopped after two dates

    second = QuickJobs(tmp_path)
    code, rows = run_backfill(tmp_path, second)
    assert code == 0
    assert [rows[d.isoformat()][0] for d in DATES] == ["SKIPPED", "SKIPPED", "SUCCEEDED", "SUCCEEDED"]
    assert sorted(set(second.dates_run("silver_to_gold"))) == ["2024-01-03", "2024-01-04"]


@pytest.mark.integration
def test_force_reruns_succeeded_dates_as_new_attempts_and_dry_run_runs_nothing(tmp_path: Path) -> None:
    run_backfill(tmp_path, QuickJobs(tmp_path), DATES[:2])

    planned = QuickJobs(tmp_path)
    code, rows = run_backfill(tmp_path, planned, DATES[:3], force=True, dry_run=True)
    assert code == 0 and planned.calls == []
    assert rows == {"2024-01-01": ("PLANNED", "ingestion-2024-01-01-attempt-2"),
                    "2024-01-02": ("PLANNED", "ingestion-2024-01-02-attempt-2"),
                    "2024-01-03": ("PLANNED", "ingestion-2024-01-03")}

    forced = QuickJobs(tmp_path)
    code, rows = run_backfill(tmp_path, forced, DATES[:2], force=True)
    assert code == 0 and rows["2024-01-02"] == ("SUCCEEDED", "ingestion-2024-01-02-attempt-2")


@pytest.mark.integration
def test_dependent_dates_never_run_in_parallel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    jobs = QuickJobs(tmp_path)
    code, _ = run_backfill(tmp_path, jobs, DATES[:2], parallel=4)
    assert code == 0
    assert "each date depends on the dates before it, so they run one at a time" in capsys.readouterr().err
    assert jobs.dates_run("bronze_to_silver") == ["2024-01-01"] * 3 + ["2024-01-02"] * 3


@pytest.mark.integration
def test_independent_dates_run_in_parallel_and_a_failed_date_does_not_stop_the_others(tmp_path: Path) -> None:
    deploy(tmp_path, LakeLayout.from_root(str(tmp_path)))  # batch inference needs a deployed model
    jobs = QuickJobs(tmp_path, fail={"2024-01-02": 99}, hold_seconds=1.5)
    code, rows = run_backfill(tmp_path, jobs, DATES[:3], pipeline="batch_inference", parallel=3)

    assert code == 1
    assert [rows[d.isoformat()][0] for d in DATES[:3]] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    (_, end_1, _), (start_3, _, _) = sorted(jobs.active)
    assert start_3 < end_1  # the two successful dates' scoring ran at the same time
    transform_output = Path(LakeLayout.from_root(str(tmp_path)).gold_table("model_scores"))
    assert sorted(p.relative_to(transform_output).as_posix() for p in transform_output.rglob("*.out")) == [
        "event_date=2024-01-01/run_id=batch_inference-2024-01-01/part-00000.jsonl.out",
        "event_date=2024-01-03/run_id=batch_inference-2024-01-03/part-00000.jsonl.out"]


def test_the_cli_prints_the_plan_for_a_dry_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["backfill", "ingestion", "--lake-root", str(tmp_path), "--start", "2024-01-01",
                     "--end", "2024-01-02", "--dry-run", "--parallel", "2"])
    out = capsys.readouterr().out
    assert code == 0
    assert table_rows(out) == {"2024-01-01": ("PLANNED", "ingestion-2024-01-01"),
                               "2024-01-02": ("PLANNED", "ingestion-2024-01-02")}
    assert out.splitlines()[-1] == "PLANNED 2"


def test_the_progress_bar_is_drawn_on_a_terminal_only(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with progress_display(2, "ingestion backfill") as tick:
        tick()
        tick()
    assert capsys.readouterr().err == ""  # a log or a pipe gets no bar
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich's switch: treat stderr as a terminal
    monkeypatch.setenv("NO_COLOR", "1")
    with progress_display(2, "ingestion backfill (lake [x])") as tick:
        print("a date's summary", file=sys.stderr)
        tick()
        tick()
    drawn = capsys.readouterr().err
    assert "ingestion backfill (lake [x])" in drawn and "2/2 dates" in drawn and "a date's summary" in drawn
