"""The few patches moto's Step Functions interpreter needs to run our state machines locally.

Every patch targets one attribute of moto 5.2.5 and is only active inside `patched_interpreter()`:

* `glue.models.FakeJob.start_job_run`: after moto records the job run, the engine's hook runs the
  job (the local Glue job function) and settles the run as SUCCEEDED or FAILED. Stock moto only
  ever reports SUCCEEDED and runs nothing.
* `glue.models.FakeJobRun.as_dict`: adds `ErrorMessage` (and the measured `ExecutionTime`) as
  GetJobRun reports them on AWS, so a failed `.sync` task's Cause names the job's error.
* `StateTaskServiceGlue._eval_integration_pattern`: moto's inherited version ends with
  `callback_endpoint.interrupt_all()` on an endpoint that only exists for `.waitForTaskToken`,
  which Glue does not support, so every `glue:startJobRun.sync` failed with
  `'NoneType' object has no attribute 'interrupt_all'`. Replaced, for Glue only, by the
  `.sync` branch of the same method without that call.
* `StateTaskServiceGlue._sync_to_start_job_run`: the GetJobRun result becomes the task output,
  and its datetimes made `describe_execution` fail (`datetime is not JSON serializable`).
  The resolver's result is converted to JSON types (timestamps as epoch milliseconds).
* `iteration_worker.CustomErrorName` and `branches_decl.CustomErrorName` (the names those two
  modules imported): a Map iteration or Parallel branch that failed with a `States.*` error (e.g.
  `States.TaskFailed` from a Glue job) is re-raised by its parent as a *custom* error name, whose
  constructor rejects the `States.` prefix, so the parent failed with `States.Runtime` and lost the
  cause. AWS fails the Map/Parallel with the inner error and cause; the replacement builds a
  `StatesErrorName` for `States.*` names and a `CustomErrorName` otherwise.
* `ExecutionWorker._get_evaluation_environment`: moto puts the execution's start time into the
  context object as a `datetime`, so `$$.Execution.StartTime` in a task's Parameters failed the task
  (`datetime is not JSON serializable`). AWS gives an ISO 8601 string in UTC with milliseconds
  (`2024-01-03T23:30:00.123Z`); the replacement stores that.
* `retrier_decl.time` (the module's `time` reference) and `WaitFunction._wait_interval`: Retry
  and Wait no longer sleep; the requested delays are reported to the engine.
* optionally `jitter_strategy_decl.random`: `JitterStrategy: FULL` draws its upper bound, so a
  retry schedule is reproducible in tests.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import moto

PINNED_MOTO_VERSION = "5.2.5"


class UnsupportedMotoVersion(RuntimeError):
    """The installed moto is not the version whose internals these patches were written against."""


def require_moto_version(installed: str, pinned: str = PINNED_MOTO_VERSION) -> None:
    if installed != pinned:
        raise UnsupportedMotoVersion(
            f"pipelines.local_engine patches moto internals and is pinned to moto=={pinned}, "
            f"but moto=={installed} is installed. Install moto[server]=={pinned}, or re-check every "
            f"patch in {__name__} against moto {installed} (and its tests) before moving the pin."
        )


require_moto_version(moto.__version__)

# Imported after the guard: these module paths are moto 5.2.5's.
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


@contextmanager
def patched_interpreter(hooks: InterpreterHooks) -> Iterator[None]:
    """Apply every patch for the duration of the block; moto is restored on exit."""

    def no_sleep_wait(self: WaitFunction, env: Any, wait_seconds: int) -> None:
        hooks.on_wait(float(wait_seconds))

    with ExitStack() as stack:
        stack.enter_context(
            mock.patch.object(FakeJob, "start_job_run", _start_job_run_with_hook(FakeJob.start_job_run, hooks))
        )
        stack.enter_context(mock.patch.object(FakeJobRun, "as_dict", _job_run_as_dict_with_error(FakeJobRun.as_dict)))
        stack.enter_context(
            mock.patch.object(StateTaskServiceGlue, "_eval_integration_pattern", _glue_sync_integration_pattern)
        )
        stack.enter_context(
            mock.patch.object(
                StateTaskServiceGlue,
                "_sync_to_start_job_run",
                _json_safe_sync_resolver(StateTaskServiceGlue._sync_to_start_job_run),
            )
        )
        stack.enter_context(
            mock.patch.object(ExecutionWorker, "_get_evaluation_environment",
                              _start_time_as_aws_renders_it(ExecutionWorker._get_evaluation_environment))
        )
        for module in (iteration_worker, branches_decl):
            stack.enter_context(mock.patch.object(module, "CustomErrorName", propagated_error_name))
        stack.enter_context(mock.patch.object(retrier_decl, "time", _RecordingTime(hooks.on_retry_delay)))
        stack.enter_context(mock.patch.object(WaitFunction, "_wait_interval", no_sleep_wait))
        if hooks.jitter_takes_upper_bound:
            stack.enter_context(mock.patch.object(jitter_strategy_decl, "random", _UpperBoundRandom()))
        yield
