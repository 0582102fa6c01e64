"""The local Step Functions engine: real moto interpreter, Glue routed to a recording runner.

The glue runner is a recording fake: it is the boundary where the lead wires the real job
functions. Everything else (ASL interpretation, retries, catches, SNS → SQS → outbox) is real moto.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import moto
import pytest
from statelint.config import Config
from statelint.linter import Linter

from pipelines import asl
from pipelines.local_engine import (
    PINNED_MOTO_VERSION,
    LocalStepFunctions,
    TransientGlueError,
    UnresolvedPlaceholderError,
    UnsupportedMotoVersion,
    moto_patches,
    render_definition,
    render_history,
    require_moto_version,
)
from pipelines.local_engine.engine import ExecutionFailedError
from pipelines.registry import PIPELINES
from pipelines.validate import check_retry

INGESTION = PIPELINES["ingestion"]
JOB_NAMES = {placeholder: f"lakehouse-test-{job}" for placeholder, job in INGESTION.placeholders.items()}
BRONZE, GOLD, FINALIZE = (JOB_NAMES[k] for k in ("BronzeToSilverJobName", "SilverToGoldJobName", "FinalizeRunJobName"))
ONLINE = JOB_NAMES["MaterializeFeaturesJobName"]
DATASETS = ["customers", "transactions", "support_tickets"]
RUN_INPUT = {"run_date": "2024-01-03", "run_id": "run-0001", "datasets": DATASETS}
FAST_SECONDS = 30.0  # generous for a loaded 2-core machine; the requested delays add up to minutes


class RecordingGlueRunner:
    """Records every job call; `fail` maps (job, dataset or None) -> remaining failures to raise."""

    def __init__(self, fail: dict[tuple[str, str | None], int] | None = None, error: type[Exception] = ValueError):
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.fail = dict(fail or {})
        self.error = error

    def __call__(self, job_name: str, arguments: dict[str, str]) -> None:
        self.calls.append((job_name, arguments))
        key = (job_name, arguments.get("--dataset"))
        if self.fail.get(key, 0) > 0:
            self.fail[key] -= 1
            if self.error is TransientGlueError:
                raise TransientGlueError("ThrottlingException", "Rate exceeded")
            raise self.error(
                f"bronze file bronze/{key[1]}/ingest_date=2024-01-03/part-0.csv: column amount is not a decimal"
            )


def _engine(tmp_path: Path, runner: RecordingGlueRunner, **options: object) -> LocalStepFunctions:
    return LocalStepFunctions(runner, alert_dir=tmp_path / "ops" / "alerts", **options)


def _run_ingestion(engine: LocalStepFunctions, name: str = "ingestion-2024-01-03", run_input: dict = RUN_INPUT):
    return engine.run(
        INGESTION.definition_path, JOB_NAMES, run_input, execution_name=name, state_machine_name="ingestion"
    )


def _bronze_call(dataset: str, run_id: str = "run-0001") -> tuple[str, dict[str, str]]:
    return (BRONZE, {"--dataset": dataset, "--run_date": "2024-01-03", "--run_id": run_id})


def _events(result, event_type: str) -> list[dict]:
    return [event for event in result.history if event["type"] == event_type]


# -- the ingestion definition end to end --------------------------------------------------------


@pytest.mark.integration
def test_ingestion_runs_every_job_in_order_with_its_arguments(tmp_path: Path) -> None:
    runner = RecordingGlueRunner()
    with _engine(tmp_path, runner) as engine:
        before = datetime.now(UTC) - timedelta(seconds=1)
        result = _run_ingestion(engine)
        after = datetime.now(UTC)
        second = _run_ingestion(engine, "ingestion-2024-01-03-again", {**RUN_INPUT, "run_id": "run-0002"})

    assert result.status == "SUCCEEDED", result.render_history()
    assert runner.calls[:5] == [
        _bronze_call("customers"),
        _bronze_call("transactions"),
        _bronze_call("support_tickets"),
        (GOLD, {"--run_date": "2024-01-03", "--run_id": "run-0001"}),
        (ONLINE, {"--run_date": "2024-01-03", "--run_id": "run-0001"}),
    ]
    finalize, finalize_args = runner.calls[5]
    started_at = finalize_args.pop("--started_at")  # $$.Execution.StartTime, rendered as AWS does
    assert (finalize, finalize_args) == (FINALIZE, {"--run_date": "2024-01-03", "--run_id": "run-0001",
                                                    "--pipeline": "ingestion", "--status": "SUCCEEDED"})
    assert started_at.endswith("Z") and before <= datetime.fromisoformat(started_at) <= after
    assert [run.arguments.get("--dataset") for run in result.glue_runs] == [*DATASETS, None, None, None]
    assert result.output["finalize_run"]["JobRunState"] == "SUCCEEDED"
    # one list per wave; an input without dataset_waves runs one dataset per wave, in the order given
    assert [[run["JobName"] for run in wave] for wave in result.output["bronze_to_silver"]] == [[BRONZE]] * 3
    assert result.retry_delays == [] and result.alerts == [] and result.error is None
    json.dumps(result.history)  # JSON-safe
    # the same machine runs again, and each result only carries its own execution's job runs
    assert second.status == "SUCCEEDED"
    assert len(runner.calls) == 12
    assert {run.arguments["--run_id"] for run in second.glue_runs} == {"run-0002"}


@pytest.mark.integration
def test_a_job_failing_once_is_retried_and_the_run_succeeds_without_sleeping(tmp_path: Path) -> None:
    runner = RecordingGlueRunner(fail={(BRONZE, "transactions"): 1})
    with _engine(tmp_path, runner, deterministic_jitter=True) as engine:
        result = _run_ingestion(engine)

    assert result.status == "SUCCEEDED", result.render_history()
    assert runner.calls[:4] == [
        _bronze_call("customers"),
        _bronze_call("transactions"),
        _bronze_call("transactions"),
        _bronze_call("support_tickets"),
    ]
    failed = _events(result, "TaskFailed")
    assert len(failed) == 1
    assert failed[0]["taskFailedEventDetails"]["error"] == "States.TaskFailed"
    assert "column amount is not a decimal" in failed[0]["taskFailedEventDetails"]["cause"]
    assert result.retry_delays == [60.0]  # States.TaskFailed retrier: IntervalSeconds 60, once
    assert result.alerts == []
    assert result.elapsed_seconds < FAST_SECONDS < sum(result.retry_delays)


@pytest.mark.integration
def test_full_jitter_draws_each_delay_below_its_backoff_ceiling(tmp_path: Path) -> None:
    runner = RecordingGlueRunner(fail={(GOLD, None): 3}, error=TransientGlueError)
    with _engine(tmp_path, runner) as engine:
        result = _run_ingestion(engine, run_input={**RUN_INPUT, "datasets": ["customers"]})

    assert result.status == "SUCCEEDED", result.render_history()
    assert len(result.retry_delays) == 3
    assert all(0 <= delay <= ceiling for delay, ceiling in zip(result.retry_delays, [30, 60, 120], strict=True))


@pytest.mark.integration
def test_transient_glue_errors_back_off_exponentially(tmp_path: Path) -> None:
    runner = RecordingGlueRunner(fail={(GOLD, None): 3}, error=TransientGlueError)
    with _engine(tmp_path, runner, deterministic_jitter=True) as engine:
        result = _run_ingestion(engine, run_input={**RUN_INPUT, "datasets": ["customers"]})

    assert result.status == "SUCCEEDED", result.render_history()
    assert result.retry_delays == [30.0, 60.0, 120.0]  # IntervalSeconds 30, BackoffRate 2.0
    assert result.elapsed_seconds < FAST_SECONDS < sum(result.retry_delays)
    assert [event["taskFailedEventDetails"]["error"] for event in _events(result, "TaskFailed")] == [
        "Glue.ThrottlingException"
    ] * 3
    assert [run.state for run in result.glue_runs if run.job_name == GOLD] == ["REJECTED"] * 3 + ["SUCCEEDED"]


@pytest.mark.integration
def test_a_job_that_always_fails_alerts_records_the_failure_and_fails_the_run(tmp_path: Path) -> None:
    runner = RecordingGlueRunner(fail={(BRONZE, "transactions"): 99})
    with _engine(tmp_path, runner, deterministic_jitter=True) as engine:
        result = _run_ingestion(engine)

    assert result.status == "FAILED"
    assert result.error == "IngestionFailed"
    assert "column amount is not a decimal" in result.cause
    assert result.retry_delays == [60.0]  # the job's own failure is retried once only
    assert runner.calls[:3] == [
        _bronze_call("customers"),
        _bronze_call("transactions"),
        _bronze_call("transactions"),
    ]
    called_jobs = [job for job, _ in runner.calls]
    assert GOLD not in called_jobs
    assert _bronze_call("support_tickets") not in runner.calls  # the Map fails fast

    record_failure = runner.calls[-1]
    assert record_failure[0] == FINALIZE
    assert record_failure[1]["--status"] == "FAILED"
    assert record_failure[1]["--pipeline"] == "ingestion"
    assert record_failure[1]["--error"] == "States.TaskFailed"
    cause = json.loads(record_failure[1]["--cause"])  # the failed JobRun, as Glue .sync reports it
    assert cause["JobRunState"] == "FAILED"
    assert cause["Arguments"]["--dataset"] == "transactions"
    assert "ValueError: bronze file bronze/transactions/" in cause["ErrorMessage"]

    assert len(result.alerts) == 1
    alert_path = result.alerts[0]
    assert alert_path.parent == tmp_path / "ops" / "alerts"
    assert alert_path.name.endswith("-ingestion-2024-01-03.json")
    alert = json.loads(alert_path.read_text())
    assert alert["execution"] == "ingestion-2024-01-03"
    assert alert["topic"] == engine.alert_topic_arn
    assert "2024-01-03" in alert["subject"]
    assert "Pipeline ingestion failed" in alert["message"]
    assert "column amount is not a decimal" in alert["message"]
    assert "transactions" in alert["message"]
    with pytest.raises(ExecutionFailedError, match="column amount is not a decimal"):
        result.raise_for_status()
    assert result.elapsed_seconds < FAST_SECONDS < sum(result.retry_delays)


# -- the patches, one by one ---------------------------------------------------------------------

GLUE_SYNC = {
    "StartAt": "Job",
    "States": {
        "Job": {
            "Type": "Task",
            "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Parameters": {"JobName": "probe", "Arguments": {"--dataset.$": "$.dataset"}},
            "End": True,
        }
    },
}


def _exiting_runner(job_name: str, arguments: dict[str, str]) -> None:
    sys.exit(int(arguments["--dataset"]))  # a job script ending with sys.exit(code)


@pytest.mark.integration
def test_a_job_script_exit_code_decides_its_run_state(tmp_path: Path) -> None:
    with _engine(tmp_path, _exiting_runner) as engine:
        clean = engine.run(GLUE_SYNC, {}, {"dataset": "0"}, "exit-0", "probe")
        failed = engine.run(GLUE_SYNC, {}, {"dataset": "3"}, "exit-3", "probe")

    assert clean.status == "SUCCEEDED"
    assert failed.status == "FAILED"
    assert failed.error == "States.TaskFailed"
    assert json.loads(failed.cause)["ErrorMessage"] == "SystemExit: 3"


@pytest.mark.integration
def test_glue_sync_task_output_is_a_json_safe_job_run(tmp_path: Path) -> None:
    runner = RecordingGlueRunner()
    with _engine(tmp_path, runner) as engine:
        result = engine.run(GLUE_SYNC, {}, {"dataset": "customers"}, "probe-1", "probe")

    assert result.status == "SUCCEEDED", result.render_history()
    assert runner.calls == [("probe", {"--dataset": "customers"})]
    assert result.output["JobName"] == "probe"
    assert result.output["JobRunState"] == "SUCCEEDED"
    assert result.output["Arguments"] == {"--dataset": "customers"}
    assert result.output["Id"].startswith("jr_")
    assert isinstance(result.output["StartedOn"], int)  # epoch milliseconds, not a datetime
    assert result.output["StartedOn"] > 1_600_000_000_000


@pytest.mark.integration
def test_fire_and_forget_start_job_run_runs_the_job_but_does_not_wait_for_its_outcome(tmp_path: Path) -> None:
    definition = json.loads(json.dumps(GLUE_SYNC).replace("startJobRun.sync", "startJobRun"))
    runner = RecordingGlueRunner(fail={("probe", "customers"): 1})
    with _engine(tmp_path, runner) as engine:
        result = engine.run(definition, {}, {"dataset": "customers"}, "probe-1", "probe")

    assert runner.calls == [("probe", {"--dataset": "customers"})]
    # as on AWS: the task only started the run, so the run's failure does not fail the task
    assert result.status == "SUCCEEDED"
    assert set(result.output) == {"JobRunId", "JobName"}
    assert result.glue_runs[0].state == "FAILED"


MAP_WITH_RUNTIME_ERROR = {
    "StartAt": "Each",
    "States": {
        "Each": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Read",
                "States": {"Read": {"Type": "Pass", "Parameters": {"x.$": "$.missing_field"}, "End": True}},
            },
            "End": True,
        }
    },
}


@pytest.mark.integration
def test_map_fails_with_the_inner_states_error_and_its_cause(tmp_path: Path) -> None:
    with _engine(tmp_path, RecordingGlueRunner()) as engine:
        result = engine.run(MAP_WITH_RUNTIME_ERROR, {}, {"items": [{"a": 1}]}, "map-1", "map")

    assert result.status == "FAILED"
    assert result.error == "States.Runtime"
    assert "missing_field" in result.cause
    assert "Custom Error Names" not in result.cause


@pytest.mark.integration
def test_retry_backoff_respects_max_delay_and_wait_states_never_sleep(tmp_path: Path) -> None:
    definition = {
        "StartAt": "Pause",
        "States": {
            "Pause": {"Type": "Wait", "Seconds": 3600, "Next": "Job"},
            "Job": {
                "Type": "Task",
                "Resource": "arn:aws:states:::glue:startJobRun.sync",
                "Parameters": {"JobName": "probe"},
                "Retry": [
                    {
                        "ErrorEquals": ["Glue.ThrottlingException"],
                        "IntervalSeconds": 1,
                        "BackoffRate": 2.0,
                        "MaxAttempts": 4,
                        "MaxDelaySeconds": 3,
                    }
                ],
                "End": True,
            },
        },
    }
    runner = RecordingGlueRunner(fail={("probe", None): 99}, error=TransientGlueError)
    with _engine(tmp_path, runner) as engine:
        result = engine.run(definition, {}, {}, "backoff-1", "backoff")

    assert result.status == "FAILED"
    assert result.error == "Glue.ThrottlingException"
    assert result.retry_delays == [1.0, 2.0, 3.0, 3.0]  # 1, 2, then 4 and 8 capped at 3
    assert result.wait_seconds == [3600.0]
    assert len(runner.calls) == 5  # first attempt + MaxAttempts retries
    assert result.elapsed_seconds < FAST_SECONDS


@pytest.mark.integration
def test_patches_are_active_only_inside_the_engine(tmp_path: Path) -> None:
    from moto.glue.models import FakeJob
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import iteration_worker

    glue_task = moto_patches.StateTaskServiceGlue
    originals = (FakeJob.start_job_run, retrier_decl.time, iteration_worker.CustomErrorName)
    assert "_eval_integration_pattern" not in vars(glue_task)
    with _engine(tmp_path, RecordingGlueRunner()):
        assert "_eval_integration_pattern" in vars(glue_task)
        assert retrier_decl.time is not time
        with pytest.raises(RuntimeError, match="another LocalStepFunctions is active"):
            _engine(tmp_path, RecordingGlueRunner()).__enter__()
    assert "_eval_integration_pattern" not in vars(glue_task)
    assert (FakeJob.start_job_run, retrier_decl.time, iteration_worker.CustomErrorName) == originals


# -- substitutions, version guard, the definition itself ----------------------------------------


def test_unknown_placeholders_are_an_error_naming_them() -> None:
    text = INGESTION.definition_path.read_text()
    partial = {k: v for k, v in JOB_NAMES.items() if k != "SilverToGoldJobName"}
    with pytest.raises(UnresolvedPlaceholderError, match=r"\$\{AlertTopicArn\}, \$\{SilverToGoldJobName\}"):
        render_definition(text, partial)
    rendered = render_definition(text, {**JOB_NAMES, "AlertTopicArn": "arn:aws:sns:us-east-1:1:t"})
    assert asl.placeholders(rendered) == set()
    assert f'"JobName": "{GOLD}"' in rendered


@pytest.mark.integration
def test_engine_refuses_a_definition_with_unknown_placeholders(tmp_path: Path) -> None:
    definition = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "${NotProvided}", "End": True}}}
    with _engine(tmp_path, RecordingGlueRunner()) as engine:
        with pytest.raises(UnresolvedPlaceholderError, match=r"\$\{NotProvided\}"):
            engine.run(definition, {}, {}, "p-1", "p")
        # the engine's own placeholders resolve without being passed
        topic = {
            "StartAt": "P",
            "States": {"P": {"Type": "Pass", "Result": {"t": "${AlertTopicArn}"}, "End": True}},
        }
        result = engine.run(topic, {}, {}, "p-2", "p")
        assert result.output == {"t": engine.alert_topic_arn}
        with pytest.raises(ValueError, match="already exists"):
            engine.run(topic, {}, {}, "p-2", "p")


def test_version_guard_rejects_any_other_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    assert moto.__version__ == PINNED_MOTO_VERSION  # the pin itself: tests/test_moto_seam.py
    require_moto_version(PINNED_MOTO_VERSION)
    pinned = re.escape(PINNED_MOTO_VERSION)
    with pytest.raises(UnsupportedMotoVersion, match=rf"pinned to moto=={pinned}, but moto==0\.0\.1 is installed"):
        require_moto_version("0.0.1")
    # and the module really checks at import time
    monkeypatch.setattr(moto, "__version__", "5.3.0")
    spec = importlib.util.spec_from_file_location("moto_patches_probe", moto_patches.__file__)
    module = importlib.util.module_from_spec(spec)
    with pytest.raises(RuntimeError, match=r"moto==5\.3\.0 is installed"):
        spec.loader.exec_module(module)


def test_ingestion_definition_is_lint_clean_and_matches_the_registry() -> None:
    text = INGESTION.definition_path.read_text()
    assert asl.placeholders(text) == set(INGESTION.placeholders) | {"AlertTopicArn"}
    rendered = render_definition(text, {**JOB_NAMES, "AlertTopicArn": "arn:aws:sns:us-east-1:123456789012:alerts"})
    assert Linter.validate(rendered, Config()) == []

    glue_tasks = asl.glue_tasks(json.loads(rendered))
    assert set(glue_tasks) == {"BronzeToSilver", "SilverToGold", "MaterializeFeatures", "FinalizeRun", "RecordFailure"}
    for name, task in glue_tasks.items():
        assert asl.retrier_for(task, "States.TaskFailed")["MaxAttempts"] == 1, name
        assert check_retry(INGESTION.definition_file, name, task) == [], name  # the validator's backoff rule
        assert all(isinstance(value, str) for value in task["Parameters"]["Arguments"].values()), name


def test_render_history_shows_states_and_failures_compactly() -> None:
    events = [
        {"id": 1, "type": "ExecutionStarted", "executionStartedEventDetails": {"input": "{}"}},
        {"id": 2, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Job"}},
        {"id": 3, "type": "TaskScheduled", "taskScheduledEventDetails": {"resource": "startJobRun.sync"}},
        {
            "id": 4,
            "type": "TaskFailed",
            "taskFailedEventDetails": {"error": "States.TaskFailed", "cause": "x" * 500},
        },
        {"id": 5, "type": "ExecutionFailed", "executionFailedEventDetails": {"error": "E", "cause": "c"}},
    ]
    assert render_history(events, max_cause_chars=10).splitlines() == [
        "#1 ExecutionStarted",
        "#2 TaskStateEntered Job",
        "#4 TaskFailed States.TaskFailed: xxxxxxxxxx…",
        "#5 ExecutionFailed E: c",
    ]
