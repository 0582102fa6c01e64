"""Running a Glue job run locally: call the job function, settle the moto job run like Glue would."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field

from moto.core.exceptions import JsonRESTError
from moto.core.utils import utcnow
from moto.glue.models import FakeJob, FakeJobRun

# (job name as deployed, the run's Glue `Arguments` map e.g. {"--dataset": "customers"}) -> None.
# Raising (or sys.exit with a non-zero code) marks the job run FAILED, with ErrorMessage
# "<ExceptionType>: <message>". It runs on moto's execution thread, synchronously.
GlueRunner = Callable[[str, dict[str, str]], None]


class TransientGlueError(Exception):
    """Raise from a glue runner to make StartJobRun itself fail with a Glue API error.

    The task then fails with `Glue.<code>` (e.g. `Glue.ThrottlingException`), as AWS reports an
    API refusal, instead of `States.TaskFailed` for a job run that ran and failed. No run is kept.
    """

    def __init__(self, code: str = "ThrottlingException", message: str = "Rate exceeded"):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class GlueRun:
    """One local job run as the engine saw it (for assertions and debugging)."""

    job_name: str
    arguments: dict[str, str]
    state: str  # SUCCEEDED | FAILED | REJECTED (StartJobRun refused with a TransientGlueError)
    error_message: str | None = None
    traceback: str | None = field(default=None, repr=False)
    seconds: float = 0.0


def settle_job_run(runner: GlueRunner, job: FakeJob, job_run: FakeJobRun, record: Callable[[GlueRun], None]) -> None:
    """Run `runner` for a job run moto just recorded, give the run its terminal state, `record` it.

    A `TransientGlueError` withdraws the run and is re-raised as the Glue API error it names.
    """
    arguments = dict(job_run.arguments or {})
    started = time.monotonic()
    try:
        runner(job.name, arguments)
    except TransientGlueError as refused:
        job.job_runs.remove(job_run)
        record(GlueRun(job.name, arguments, "REJECTED", str(refused), seconds=time.monotonic() - started))
        raise JsonRESTError(refused.code, refused.message) from refused
    except SystemExit as exit_:  # a job script's sys.exit(): non-zero fails the run, as on Glue
        run = _settle(job, job_run, arguments, None if exit_.code in (0, None) else exit_)
    except Exception as exc:  # the job's own failure: Glue marks the run FAILED with its message
        run = _settle(job, job_run, arguments, exc)
    else:
        run = _settle(job, job_run, arguments, None)
    run.seconds = time.monotonic() - started
    job_run.completed_on = utcnow()
    job_run.modified_on = job_run.completed_on
    job_run.execution_seconds = round(run.seconds)
    record(run)


def _settle(job: FakeJob, job_run: FakeJobRun, arguments: dict[str, str], error: BaseException | None) -> GlueRun:
    if error is None:
        job_run.status = "SUCCEEDED"
        return GlueRun(job.name, arguments, "SUCCEEDED")
    job_run.status = "FAILED"
    job_run.error_message = f"{type(error).__name__}: {error}"
    return GlueRun(job.name, arguments, "FAILED", job_run.error_message, traceback.format_exc())
