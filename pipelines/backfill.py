"""Backfills: a pipeline over a date range, locally or on AWS, with deterministic execution names.

Every date's execution is named `<pipeline>-<date>`, then `<pipeline>-<date>-attempt-N` for later
attempts. A date that already has a SUCCEEDED run is skipped unless `--force`, so running the same
backfill again after an interruption or a failure finishes only what is missing (`--resume` says
so explicitly; on AWS it also waits for a date's execution that is still running instead of
skipping it). `--dry-run` prints the plan and stops.

Dates run oldest first. Pipelines whose dates depend on earlier ones (ingestion deduplicates
against what earlier dates published; training deploys) run one date at a time and stop at the
first failure, the later dates reported NOT RUN. Pipelines with independent dates
(`PipelineSpec.independent_dates`) run up to `--parallel N` dates at once and carry on past a
failed date. A progress bar goes to stderr (only when it is a terminal) and a final table of dates
and statuses to stdout.

Targets: `LocalTarget` runs the checked-in definitions on the local engine and reads succeeded
runs from the lake's manifests; `AwsTarget` starts real executions through boto3 on a deployed
state machine (any endpoint, e.g. a moto server) and reads them from the execution list.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol, TextIO

from jobs.text_table import render_table
from pipelines.local_run import execution_input
from pipelines.polling import wait_until
from pipelines.registry import PIPELINES, max_concurrent_job_runs

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class DateOutcome:
    run_date: date
    status: str  # PLANNED | SUCCEEDED | FAILED | TIMED_OUT | ABORTED | SKIPPED | RUNNING | NOT RUN
    run_id: str = ""
    detail: str = ""
    seconds: float = 0.0
    adopt: bool = False  # an execution already running for the date is waited for, not started again


RunOne = Callable[[DateOutcome], None]  # runs one PLANNED date and fills in status, detail, seconds


class BackfillTarget(Protocol):
    description: str

    def plan(self, pipeline: str, dates: Sequence[date], force: bool, resume: bool) -> list[DateOutcome]: ...

    def session(self, pipeline: str, workers: int) -> Any: ...  # a context manager yielding RunOne


def attempt_name(pipeline: str, day: date, attempt: int) -> str:
    base = f"{pipeline}-{day.isoformat()}"
    return base if attempt <= 1 else f"{base}-attempt-{attempt}"


def attempt_number(pipeline: str, day: date, name: str) -> int | None:
    """1 for `<pipeline>-<date>`, N for `...-attempt-N`, None for a name of another date/pipeline."""
    base = f"{pipeline}-{day.isoformat()}"
    if name == base:
        return 1
    suffix = name.removeprefix(base + "-attempt-")
    return int(suffix) if suffix != name and suffix.isdigit() else None


# -- local ---------------------------------------------------------------------------------------------

class LocalTarget:
    """The local engine; succeeded runs are the lake's manifests.

    `pipelines_factory(lake_root, **engine_options)` is a context manager giving a `LocalPipelines`
    (default `local_run.local_pipelines`)."""

    def __init__(self, lake_root: Path, pipelines_factory: Callable[..., Any] | None = None, **engine_options: Any):
        self.lake_root = Path(lake_root)
        self.pipelines_factory = pipelines_factory
        self.engine_options = engine_options
        self.description = f"local engine, lake {self.lake_root}"

    def plan(self, pipeline: str, dates: Sequence[date], force: bool, resume: bool) -> list[DateOutcome]:
        from jobs.lake import LakeLayout
        from pipelines.local_run import has_succeeded, next_run_id

        layout = LakeLayout.from_root(str(self.lake_root))
        outcomes = []
        for day in dates:
            if not force and has_succeeded(layout, pipeline, day):
                outcomes.append(DateOutcome(day, "SKIPPED", detail="already succeeded (use --force to re-run)"))
            else:
                outcomes.append(DateOutcome(day, "PLANNED", next_run_id(layout, pipeline, day)))
        return outcomes

    @contextmanager
    def session(self, pipeline: str, workers: int) -> Iterator[RunOne]:
        from pipelines.local_run import local_pipelines
        from pipelines.summary import manifest_lines

        options = {"glue_max_concurrent_runs": max(1, workers) * max_concurrent_job_runs(), **self.engine_options}
        with (self.pipelines_factory or local_pipelines)(self.lake_root, **options) as pipelines:
            def run_one(outcome: DateOutcome) -> None:
                run = pipelines.run(pipeline, outcome.run_date, outcome.run_id)
                outcome.status = run.status
                if run.manifest:
                    print("\n".join(manifest_lines(run.manifest)), file=sys.stderr)  # above the progress bar
                if run.status != "SUCCEEDED":
                    outcome.detail = (run.error_message or "")[:300]
                    outcome.detail += "".join(f" (alert: {alert})" for alert in run.alerts)

            yield run_one


# -- AWS -----------------------------------------------------------------------------------------------

class AwsTarget:
    """A deployed state machine, through boto3; succeeded runs are its executions."""

    def __init__(self, state_machine: str, region: str | None = None, endpoint_url: str | None = None,
                 poll_seconds: float = 10.0, client: Any = None):
        self.state_machine = state_machine
        self.region = region
        self.endpoint_url = endpoint_url
        self.poll_seconds = poll_seconds
        self._client = client
        self._arn: str | None = None
        where = f" at {endpoint_url}" if endpoint_url else ""
        self.description = f"AWS Step Functions state machine {state_machine}{where}"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("stepfunctions", region_name=self.region, endpoint_url=self.endpoint_url)
        return self._client

    @property
    def state_machine_arn(self) -> str:
        if self._arn is None:
            if self.state_machine.startswith("arn:"):
                self._arn = self.state_machine
            else:
                machines = {machine["name"]: machine["stateMachineArn"]
                            for page in self.client.get_paginator("list_state_machines").paginate()
                            for machine in page["stateMachines"]}
                if self.state_machine not in machines:
                    raise SystemExit(f"no state machine named {self.state_machine!r}; deployed: "
                                     f"{', '.join(sorted(machines)) or '(none)'}")
                self._arn = machines[self.state_machine]
        return self._arn

    def executions(self) -> dict[str, str]:
        """Execution name → status, for every execution of the state machine."""
        paginator = self.client.get_paginator("list_executions")
        return {execution["name"]: execution["status"]
                for page in paginator.paginate(stateMachineArn=self.state_machine_arn)
                for execution in page["executions"]}

    def plan(self, pipeline: str, dates: Sequence[date], force: bool, resume: bool) -> list[DateOutcome]:
        existing = self.executions()
        outcomes = []
        for day in dates:
            attempts = {number: (name, status) for name, status in existing.items()
                        if (number := attempt_number(pipeline, day, name)) is not None}
            statuses = {status for _, status in attempts.values()}
            running = sorted(name for name, status in attempts.values() if status == "RUNNING")
            if "SUCCEEDED" in statuses and not force:
                outcomes.append(DateOutcome(day, "SKIPPED", detail="already succeeded (use --force to re-run)"))
            elif running and resume:
                outcomes.append(DateOutcome(day, "PLANNED", running[-1], "waiting for the running execution",
                                            adopt=True))
            elif running:
                outcomes.append(DateOutcome(day, "RUNNING", running[-1],
                                            "an execution is still running (--resume waits for it)"))
            else:
                outcomes.append(DateOutcome(day, "PLANNED", attempt_name(pipeline, day, max(attempts, default=0) + 1)))
        return outcomes

    @contextmanager
    def session(self, pipeline: str, workers: int) -> Iterator[RunOne]:
        spec = PIPELINES[pipeline]

        def run_one(outcome: DateOutcome) -> None:
            if outcome.adopt:
                arn = self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{outcome.run_id}"
            else:
                arn = self.client.start_execution(
                    stateMachineArn=self.state_machine_arn, name=outcome.run_id,
                    input=json.dumps(execution_input(spec, outcome.run_date, outcome.run_id)))["executionArn"]
            described = wait_until(lambda: self.client.describe_execution(executionArn=arn),
                                   lambda execution: execution["status"] in TERMINAL, what=f"execution {arn}",
                                   timeout_seconds=None, interval_seconds=self.poll_seconds)
            outcome.status = described["status"]
            if outcome.status != "SUCCEEDED":
                outcome.detail = f"{described.get('error') or ''}: {described.get('cause') or ''}"[:300]

        yield run_one


# -- the backfill --------------------------------------------------------------------------------------

def outcomes_table(outcomes: Sequence[DateOutcome]) -> str:
    """One row a date, then how many dates ended in each status (`SUCCEEDED 3, SKIPPED 1`)."""
    rows = [(o.run_date.isoformat(), o.status, o.run_id, f"{o.seconds:.1f}" if o.seconds else "", o.detail)
            for o in outcomes]
    counts = Counter(o.status for o in outcomes)
    return (render_table(("date", "status", "run id", "seconds", "detail"), rows, right=("seconds",)) + "\n"
            + ", ".join(f"{status} {count}" for status, count in sorted(counts.items())))


@contextmanager
def progress_display(total: int, description: str) -> Iterator[Callable[[], None]]:
    """A progress bar of dates on stderr, drawn only when stderr is a terminal (a log or a pipe gets
    nothing); yields `tick()`, to call once a date has finished, from any thread. While it is drawn,
    what the run prints to stdout/stderr appears above it."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    lock = threading.Lock()
    with Progress(TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(),
                  TextColumn("dates"), TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task(description, total=total)

        def tick() -> None:
            with lock:
                progress.advance(task)

        yield tick


def _timed(run_one: RunOne, outcome: DateOutcome) -> DateOutcome:
    started = time.monotonic()
    try:
        run_one(outcome)
    except Exception as exc:  # an engine or API error: the date failed, the backfill reports it
        outcome.status, outcome.detail = "FAILED", f"{type(exc).__name__}: {exc}"[:300]
    outcome.seconds = time.monotonic() - started
    return outcome


def _run_in_order(todo: list[DateOutcome], run_one: RunOne, stop_on_failure: bool, tick: Callable[[], None]) -> None:
    failed = False
    for outcome in todo:
        if failed and stop_on_failure:
            outcome.status, outcome.detail = "NOT RUN", "an earlier date failed"
            continue
        _timed(run_one, outcome)
        failed = failed or outcome.status != "SUCCEEDED"
        tick()


def _run_concurrently(todo: list[DateOutcome], run_one: RunOne, workers: int, tick: Callable[[], None]) -> None:
    """Up to `workers` dates at a time, started oldest first; a failed date does not stop the others."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="backfill") as pool:
        pending: set[Future[DateOutcome]] = set()
        queue = list(todo)
        while queue or pending:
            while queue and len(pending) < workers:
                pending.add(pool.submit(_timed, run_one, queue.pop(0)))
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for _ in done:
                tick()


def backfill(pipeline: str, lake_root: Path, dates: list[date], force: bool = False, dry_run: bool = False,
             parallel: int = 1, resume: bool = False, target: BackfillTarget | None = None,
             out: TextIO | None = None) -> int:
    """Run `pipeline` for `dates`; print the final table; 0 when no date failed."""
    out = out or sys.stdout
    spec = PIPELINES[pipeline]
    target = target or LocalTarget(lake_root)
    outcomes = target.plan(pipeline, dates, force, resume)
    todo = [o for o in outcomes if o.status == "PLANNED"]
    if dry_run or not todo:
        print(outcomes_table(outcomes), file=out)
        return 0
    workers = max(1, parallel)
    if workers > 1 and not spec.independent_dates:
        print(f"{pipeline}: each date depends on the dates before it, so they run one at a time "
              f"(--parallel applies to pipelines with independent dates)", file=sys.stderr)
        workers = 1
    with progress_display(len(todo), f"{pipeline} backfill ({target.description})") as tick, \
            target.session(pipeline, workers) as run_one:
        if workers == 1:
            _run_in_order(todo, run_one, stop_on_failure=not spec.independent_dates, tick=tick)
        else:
            _run_concurrently(todo, run_one, workers, tick)
    print(outcomes_table(outcomes), file=out)
    return 1 if any(o.status not in ("SUCCEEDED", "SKIPPED") for o in todo) else 0
