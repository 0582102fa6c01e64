"""The patches moto's Step Functions interpreter needs to run our state machines locally.

Each is a `MotoPatch` in `INTERPRETER_PATCHES` below (what it fixes, the moto version it was written
for); `pipelines.local_engine.moto_registry` lists them with the SageMaker and CloudFormation ones, and
`patched_interpreter()` applies them for the duration of a block and restores moto on exit. Retry and
Wait report their delays to the engine instead of sleeping; `JitterStrategy: FULL` can be made to
draw its upper bound, so a retry schedule is reproducible in tests.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import moto

from pipelines.local_engine.moto_seam import MotoPatch, applied, require_moto_version

# Checked before moto's internals are imported: their module paths are the pinned moto's.
require_moto_version(moto.__version__)

from moto.glue.models import FakeJob, FakeJobRun  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (  # noqa: E402
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.error_name import ErrorName  # noqa: E402
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (  # noqa: E402
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.retry import (  # noqa: E402
    jitter_strategy_decl,
    retrier_decl,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (  # noqa: E402
    iteration_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl  # noqa: E402
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_glue import (  # noqa: E402
    StateTaskServiceGlue,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (  # noqa: E402
    WaitFunction,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker  # noqa: E402


@dataclass(frozen=True)
class InterpreterHooks:
    """What the patched interpreter calls back into (all called on moto's execution threads)."""

    run_glue_job: Callable[[FakeJob, FakeJobRun], None]  # runs the job and settles the run's state
    on_retry_delay: Callable[[float], None]
    on_wait: Callable[[float], None]
    jitter_takes_upper_bound: bool = False


class _RecordingTime:
    """Stands in for the `time` module inside moto's retrier: `sleep` reports instead of sleeping."""

    def __init__(self, on_sleep: Callable[[float], None]):
        self._on_sleep = on_sleep

    def sleep(self, seconds: float) -> None:
        self._on_sleep(float(seconds))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class _UpperBoundRandom:
    """Stands in for `random` inside moto's jitter strategy: `uniform(a, b)` returns `b`."""

    @staticmethod
    def uniform(low: float, high: float) -> float:
        return high


def to_json_safe(value: Any) -> Any:
    """Datetimes → epoch milliseconds (how Step Functions renders service timestamps), recursively."""
    if isinstance(value, dt.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {key: to_json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json_safe(item) for item in value]
    return value


def aws_timestamp(value: dt.datetime) -> str:
    """How Step Functions writes a time in the context object: UTC, milliseconds, `Z`."""
    utc = value.astimezone(dt.UTC) if value.tzinfo else value
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _start_time_as_aws_renders_it(original: Callable[[ExecutionWorker], Any]) -> Callable[[ExecutionWorker], Any]:
    def _get_evaluation_environment(self: ExecutionWorker) -> Any:
        env = original(self)
        execution = env.states.context_object.context_object_data["Execution"]
        if isinstance(execution.get("StartTime"), dt.datetime):
            execution["StartTime"] = aws_timestamp(execution["StartTime"])
        return env

    return _get_evaluation_environment


def propagated_error_name(error_name: str | None) -> ErrorName:
    """The error name a Map/Parallel re-raises for a failed iteration/branch, `States.*` included."""
    if error_name is not None and error_name.startswith("States."):
        try:
            return StatesErrorName.from_name(error_name)
        except ValueError:  # a States.* name moto does not know: keep it verbatim
            return _VerbatimErrorName(error_name)
    return CustomErrorName(error_name=error_name)


class _VerbatimErrorName(ErrorName):
    pass


def _start_job_run_with_hook(original: Callable[..., str], hooks: InterpreterHooks) -> Callable[..., str]:
    def start_job_run(self: FakeJob, **kwargs: Any) -> str:
        run_id = original(self, **kwargs)
        job_run = next(run for run in self.job_runs if run.job_run_id == run_id)
        hooks.run_glue_job(self, job_run)
        return run_id

    return start_job_run


def _job_run_as_dict_with_error(original: Callable[[FakeJobRun], dict]) -> Callable[[FakeJobRun], dict]:
    def as_dict(self: FakeJobRun) -> dict:
        described = original(self)
        error_message = getattr(self, "error_message", None)
        if error_message:
            described["ErrorMessage"] = error_message
        execution_seconds = getattr(self, "execution_seconds", None)
        if execution_seconds is not None:
            described["ExecutionTime"] = execution_seconds
        return described

    return as_dict


def _glue_sync_integration_pattern(
    self: StateTaskServiceGlue,
    env: Any,
    resource_runtime_part: Any,
    normalised_parameters: dict,
    state_credentials: Any,
) -> None:
    """moto's `.sync` branch of `StateTaskServiceCallback._eval_integration_pattern`, minus the
    `callback_endpoint.interrupt_all()` on a None endpoint (Glue has no task-token pattern)."""
    start_job_run_output = env.stack.pop()
    self.timeout.eval(env=env)
    timeout_seconds = env.stack.pop()
    env.stack.append(start_job_run_output)  # the sync resolver reads JobName/JobRunId from it
    sync_resolver = self._build_sync_resolver(
        env=env,
        resource_runtime_part=resource_runtime_part,
        normalised_parameters=normalised_parameters,
        state_credentials=state_credentials,
    )
    outcome = self._eval_sync(
        env=env,
        sync_resolver=sync_resolver,
        timeout_seconds=timeout_seconds,
        callback_endpoint=None,
        heartbeat_endpoint=None,
    )
    env.stack.append(outcome)


# The same `.sync` evaluation serves the local SageMaker integration (sagemaker_patches).
sync_integration_pattern = _glue_sync_integration_pattern


def _json_safe_sync_resolver(original: Callable[..., Any]) -> Callable[..., Any]:
    def _sync_to_start_job_run(self: StateTaskServiceGlue, *args: Any, **kwargs: Any) -> Any:
        resolver = original(self, *args, **kwargs)

        def json_safe_resolver() -> Any:
            job_run = resolver()
            return None if job_run is None else to_json_safe(job_run)

        return json_safe_resolver

    return _sync_to_start_job_run


WRITTEN_FOR = "5.2.5"  # the moto these patches were written and last checked against


def _no_sleep_wait(_original: Any, hooks: InterpreterHooks) -> Callable[..., None]:
    def _wait_interval(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        hooks.on_wait(float(wait_seconds))

    return _wait_interval


def _interpreter_patch(name: str, target: Any, attribute: str, fixes: str,
                       replacement: Callable[[Any, Any], Any]) -> MotoPatch:
    return MotoPatch(name=name, target=target, attribute=attribute, fixes=fixes, written_for=WRITTEN_FOR,
                     replacement=replacement)


INTERPRETER_PATCHES: tuple[MotoPatch, ...] = (
    _interpreter_patch(
        "glue-job-run-runs-the-job", FakeJob, "start_job_run",
        "moto records a Glue job run as SUCCEEDED at once and runs nothing; the engine's hook runs the local "
        "job and settles the run as SUCCEEDED or FAILED",
        lambda original, hooks: _start_job_run_with_hook(original, hooks)),
    _interpreter_patch(
        "glue-job-run-error-message", FakeJobRun, "as_dict",
        "GetJobRun has no ErrorMessage and a fixed ExecutionTime of 123, so a failed .sync task's Cause could "
        "not name the job's error; the run's error and measured seconds are added",
        lambda original, _hooks: _job_run_as_dict_with_error(original)),
    _interpreter_patch(
        "glue-sync-without-task-token", StateTaskServiceGlue, "_eval_integration_pattern",
        "every glue:startJobRun.sync failed with 'NoneType' object has no attribute 'interrupt_all' (a "
        "task-token endpoint Glue never has); replaced by the .sync branch without that call",
        lambda _original, _hooks: _glue_sync_integration_pattern),
    _interpreter_patch(
        "glue-sync-output-json-safe", StateTaskServiceGlue, "_sync_to_start_job_run",
        "the GetJobRun output of a .sync task carries datetimes, so describe_execution failed with "
        "'datetime is not JSON serializable'; timestamps become epoch milliseconds",
        lambda original, _hooks: _json_safe_sync_resolver(original)),
    _interpreter_patch(
        "execution-start-time-iso", ExecutionWorker, "_get_evaluation_environment",
        "$$.Execution.StartTime is a datetime in the context object, so a task's Parameters using it failed "
        "('datetime is not JSON serializable'); AWS gives ISO 8601 UTC with milliseconds",
        lambda original, _hooks: _start_time_as_aws_renders_it(original)),
    _interpreter_patch(
        "map-keeps-states-error-name", iteration_worker, "CustomErrorName",
        "a Map iteration failing with a States.* error (e.g. States.TaskFailed) failed the Map with "
        "States.Runtime ('Custom Error Names MUST NOT begin with the prefix States.') and lost the cause",
        lambda _original, _hooks: propagated_error_name),
    _interpreter_patch(
        "parallel-keeps-states-error-name", branches_decl, "CustomErrorName",
        "the same as map-keeps-states-error-name, for a failed Parallel branch",
        lambda _original, _hooks: propagated_error_name),
    _interpreter_patch(
        "retry-does-not-sleep", retrier_decl, "time",
        "Retry sleeps for real (time.sleep in the retrier); the requested delays are reported to the engine",
        lambda _original, hooks: _RecordingTime(hooks.on_retry_delay)),
    _interpreter_patch(
        "wait-does-not-sleep", WaitFunction, "_wait_interval",
        "a Wait state sleeps for real; the requested seconds are reported to the engine",
        _no_sleep_wait),
)

# Optional (deterministic_jitter): JitterStrategy FULL draws uniformly below the backoff ceiling.
JITTER_UPPER_BOUND = _interpreter_patch(
    "jitter-takes-upper-bound", jitter_strategy_decl, "random",
    "JitterStrategy FULL draws a random delay, so a retry schedule is not reproducible in a test; the "
    "draw returns its upper bound",
    lambda _original, _hooks: _UpperBoundRandom())


def interpreter_patches(jitter_takes_upper_bound: bool) -> tuple[MotoPatch, ...]:
    return (*INTERPRETER_PATCHES, JITTER_UPPER_BOUND) if jitter_takes_upper_bound else INTERPRETER_PATCHES


@contextmanager
def patched_interpreter(hooks: InterpreterHooks) -> Iterator[None]:
    """Apply every interpreter patch for the duration of the block; moto is restored on exit."""
    with applied(interpreter_patches(hooks.jitter_takes_upper_bound), hooks):
        yield
