"""The shell around every job: context, report file, conflict retry, Glue entry point (no Spark needed)."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import pytest

from jobs import scoring_input
from jobs.job_shell import glue_main, run_job
from jobs.lake import LakeLayout
from jobs.runtime import MissingArgumentError
from jobs.tables import TableConflictError

ARGS = {"run_date": "2024-01-03", "run_id": "run-7", "pipeline": "training"}


def report_file(lake: Path, name: str) -> Path:
    return Path(LakeLayout.from_root(str(lake)).job_report("training", date(2024, 1, 3), "run-7", name))


def test_the_report_is_the_head_then_the_jobs_own_fields_written_where_finalize_run_reads_it(tmp_path):
    args = {**ARGS, "lake_root": str(tmp_path)}
    seen = []
    report = run_job("some_job", args, lambda ctx: seen.append(ctx) or {"rows": 3})

    assert json.loads(report_file(tmp_path, "some_job").read_text()) == report
    work = report.pop("work")
    assert report == {"job": "some_job", "run_id": "run-7", "run_date": "2024-01-03", "rows": 3}
    assert set(work) == {"seconds", "spark_jobs"} and work["spark_jobs"] in (0, None)  # no Spark job here
    assert (seen[0].run_id, seen[0].pipeline, seen[0].layout.ops) == ("run-7", "training", f"{tmp_path}/ops")


def test_a_per_dataset_job_names_its_report_from_the_arguments(tmp_path):
    args = {**ARGS, "lake_root": str(tmp_path), "dataset": "customers"}
    run_job("per_dataset", args, lambda ctx: {}, report_name=lambda a: f"per_dataset-{a['dataset']}")
    assert report_file(tmp_path, "per_dataset-customers").exists()
    assert not report_file(tmp_path, "per_dataset").exists()


def test_a_lost_commit_race_runs_the_body_again_with_a_fresh_context(tmp_path):
    args = {**ARGS, "lake_root": str(tmp_path)}
    contexts = []

    def body(ctx):
        contexts.append(ctx)
        if len(contexts) == 1:
            raise TableConflictError("silver.x: run other committed first")
        return {"attempt": len(contexts)}

    report = run_job("racing_job", args, body, retry_on_conflict=True)
    assert report["attempt"] == 2 and report["conflict_retries"] == 1
    assert len(contexts) == 2 and contexts[0] is not contexts[1]
    assert json.loads(report_file(tmp_path, "racing_job").read_text())["attempt"] == 2


def test_a_conflict_is_an_error_for_a_job_that_does_not_retry(tmp_path):
    def body(ctx):
        raise TableConflictError("silver.x: run other committed first")

    with pytest.raises(TableConflictError):
        run_job("plain_job", {**ARGS, "lake_root": str(tmp_path)}, body)
    assert not report_file(tmp_path, "plain_job").exists()  # a failed run writes no report


def test_main_is_the_jobs_glue_entry_point_with_its_own_arguments(monkeypatch):
    """The Glue launcher runs `from jobs.scoring_input import main; main()`: its required arguments
    are checked before any Spark session is built."""
    assert scoring_input.main.__module__ == "jobs.scoring_input"
    monkeypatch.setattr(sys, "argv", ["scoring_input.py", "--model_name", "m"])
    with pytest.raises(MissingArgumentError, match="--run_date"):
        scoring_input.main()


def test_glue_main_names_the_module_of_the_job_it_runs():
    def run(spark, args):
        return {}

    assert glue_main(run, ["run_date"]).__module__ == __name__
