"""The shell every Glue job shares, so that a job module states only what is its own.

What a job owns: its name, its arguments (`REQUIRED_ARGS`, `OPTIONAL_ARGS`) and a body that does the
work and returns the report fields that are its own. What the shell does around it, the same for every
job: the run's context from the arguments (`JobContext.from_args`), the re-run after a lost commit race
(`jobs.wap.retry_on_conflict`, for jobs that commit Iceberg tables), the report's head (`job`,
`run_id`, `run_date`), its `work` (wall seconds and Spark jobs: jobs/spark_work.py) and its file
under ops/, and the script entry point Glue calls (`main`, which
resolves the arguments and runs the job with lineage: `jobs.runtime.glue_entry_point`).

    def run(spark, args):
        return run_job(JOB_NAME, args, lambda ctx: score_day(spark, ctx, args), retry_on_conflict=True)

    main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jobs import wap
from jobs.job_context import JobContext
from jobs.runtime import JobFunction, glue_entry_point
from jobs.spark_work import measured
from jobs.storage import write_json

Report = dict[str, Any]
JobBody = Callable[[JobContext], Report]


def report_head(ctx: JobContext, job: str) -> Report:
    """The fields every job report starts with: which job, which run, which date."""
    return {"job": job, "run_id": ctx.run_id, "run_date": ctx.run_date.isoformat()}


def write_job_report(ctx: JobContext, job: str, fields: Mapping[str, Any], report_name: str | None = None) -> Report:
    """The report (its head, then the job's own `fields`) written where finalize_run collects the run's
    reports (`ops/runs/<pipeline>/run_date=…/<run_id>/<report_name or job>.json`); returned."""
    report = {**report_head(ctx, job), **fields}
    write_json(ctx.layout.job_report(ctx.pipeline, ctx.run_date, ctx.run_id, report_name or job), report)
    return report


def run_job(job: str, args: dict[str, Any], body: JobBody, *, retry_on_conflict: bool = False,
            report_name: Callable[[dict[str, Any]], str] | None = None) -> Report:
    """Run `body` in the shell: context from `args`, the report written, the report returned.

    `retry_on_conflict`: run it again from the start (a new context, so a new read of every table) when
    another run committed to one of its tables first. `report_name`: the report file's name from the
    arguments when one job writes one report per dataset (default: the job's name).
    """
    def once() -> Report:
        ctx = JobContext.from_args(args)
        name = report_name(args) if report_name else None
        with measured(name or job) as work:
            fields = body(ctx)
        return write_job_report(ctx, job, {**fields, "work": work.report()}, name)

    return wap.retry_on_conflict(once) if retry_on_conflict else once()


def glue_main(run: JobFunction, required: Sequence[str],
              optional: Mapping[str, str | None] | None = None) -> Callable[[], Any]:
    """The job's `main`: the script entry point Glue runs (`from jobs.<job> import main; main()`)."""
    def main() -> Any:
        return glue_entry_point(run, required, optional)

    main.__module__ = run.__module__
    main.__doc__ = f"Glue's entry point of {run.__module__}: resolve the job arguments and run it."
    return main
