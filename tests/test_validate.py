"""`lakehouse validate`: the checked-in definitions pass; each kind of mistake is reported with the
state and the rule it breaks; the two decided exemptions hold."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pipelines import asl, cli
from pipelines.registry import GLUE_JOBS, PIPELINES, PipelineSpec
from pipelines.validate import Problem, validate_definition, validate_pipelines

TRAINING = PIPELINES["training"]
INGESTION = PIPELINES["ingestion"]


def problems_after(spec: PipelineSpec, mutate: Callable[[dict[str, Any]], None]) -> list[tuple[str, str]]:
    definition = json.loads(spec.definition_path.read_text())
    mutate(definition)
    return [(p.state, p.rule) for p in validate_definition(spec.definition_file, json.dumps(definition), spec)]


def messages_after(spec: PipelineSpec, mutate: Callable[[dict[str, Any]], None]) -> list[str]:
    definition = json.loads(spec.definition_path.read_text())
    mutate(definition)
    return [str(p) for p in validate_definition(spec.definition_file, json.dumps(definition), spec)]


def test_every_registered_definition_is_valid() -> None:
    assert validate_pipelines() == []
    assert set(PIPELINES) == {"ingestion", "training", "batch_inference", "maintenance"}


def test_the_cli_exits_zero_on_valid_definitions(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate"]) == 0
    assert "OK: 4 state machine definition(s)" in capsys.readouterr().out


def test_the_cli_exits_non_zero_and_names_the_state_and_the_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    broken = json.loads(TRAINING.definition_path.read_text())
    del broken["States"]["TrainModel"]["Retry"]
    path = tmp_path / "training.asl.json"
    path.write_text(json.dumps(broken))

    @dataclasses.dataclass(frozen=True)
    class Elsewhere(PipelineSpec):
        @property
        def definition_path(self) -> Path:
            return path

    fields = {f.name: getattr(TRAINING, f.name) for f in dataclasses.fields(TRAINING)}
    monkeypatch.setitem(PIPELINES, "training", Elsewhere(**fields))
    assert cli.main(["validate", "training"]) == 1
    err = capsys.readouterr().err
    assert "training.asl.json (training): state 'TrainModel' breaks rule sync-task-retry: the .sync task has no Retry" \
        in err
    assert "1 problem(s)" in err


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["States"]["TrainModel"].pop("Retry"), [("TrainModel", "sync-task-retry")]),
    (lambda d: d["States"]["TrainModel"]["Retry"][1].pop("JitterStrategy"), [("TrainModel", "sync-task-retry")]),
    (lambda d: d["States"]["EvaluateModel"]["Retry"][0].pop("MaxDelaySeconds"), [("EvaluateModel", "sync-task-retry")]),
    (lambda d: d["States"]["TrainModel"].pop("Catch"), [("TrainModel", "sync-task-catch-alerts")]),
    (lambda d: d["States"]["BuildTrainingSet"]["Catch"][0].update(ErrorEquals=["States.TaskFailed"]),
     [("BuildTrainingSet", "sync-task-catch-alerts")]),
    # Straight to Fail is allowed on the failure path only; BuildTrainingSet is not on it.
    (lambda d: d["States"]["BuildTrainingSet"]["Catch"][0].update(Next="TrainingFailed"),
     [("BuildTrainingSet", "sync-task-catch-alerts")]),
])
def test_sync_tasks_without_retry_or_an_alerting_catch_are_reported(mutate: Callable[[dict[str, Any]], None],
                                                                   expected: list[tuple[str, str]]) -> None:
    assert problems_after(TRAINING, mutate) == expected


def test_a_catch_to_fail_names_the_exemption_it_misses() -> None:
    [message] = messages_after(TRAINING, lambda d: d["States"]["TrainModel"]["Catch"][0].update(Next="TrainingFailed"))
    assert "state 'TrainModel' breaks rule sync-task-catch-alerts" in message
    assert "only a task on the failure path, after an alert, may catch straight to a Fail state" in message


def glue_task(next_state: str, catch_to: str) -> dict[str, Any]:
    return {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
            "Parameters": {"JobName": "${FinalizeRunJobName}"},
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 5, "BackoffRate": 2.0,
                       "MaxAttempts": 1, "MaxDelaySeconds": 60, "JitterStrategy": "FULL"}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch_to}], "Next": next_state}


ALERT = {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
         "Parameters": {"TopicArn": "${AlertTopicArn}", "Message": "failed"}, "Next": "Record"}
MINIMAL = dataclasses.replace(INGESTION, name="minimal", placeholders={"FinalizeRunJobName": "finalize_run"},
                              glue_jobs=("finalize_run",))


def test_on_the_failure_path_a_catch_may_go_straight_to_fail() -> None:
    after_alert = {"StartAt": "Work", "States": {
        "Work": glue_task("Done", catch_to="Alert"), "Done": {"Type": "Succeed"}, "Alert": ALERT,
        "Record": glue_task("Failed", catch_to="Failed"), "Failed": {"Type": "Fail", "Error": "Failed"}}}
    assert validate_definition("minimal", json.dumps(after_alert), MINIMAL) == []

    # The same task and Catch before any alert is sent: refused.
    before_alert = {"StartAt": "Record", "States": {
        "Record": glue_task("Done", catch_to="Failed"), "Done": {"Type": "Succeed"},
        "Failed": {"Type": "Fail", "Error": "Failed"}}}
    assert [(p.state, p.rule) for p in validate_definition("minimal", json.dumps(before_alert), MINIMAL)] == [
        ("Record", "sync-task-catch-alerts")]

    # The checked-in failure paths rely on it.
    definition = json.loads(TRAINING.definition_path.read_text())
    assert definition["States"]["RecordFailure"]["Catch"][0]["Next"] == "TrainingFailed"
    assert definition["States"]["RecordRejectedRun"]["Catch"][0]["Next"] == "ModelRejected"


def test_a_task_inside_a_map_is_covered_by_the_maps_catch() -> None:
    definition = json.loads(INGESTION.definition_path.read_text())
    # a Map (PromoteWave) in a Map (PromoteDatasets): the outer one catches
    assert asl.catchers(asl.find_state(definition, "PromoteWave")) == []
    assert asl.catchers(asl.find_state(definition, "BronzeToSilver")) == []
    assert problems_after(INGESTION, lambda d: None) == []
    [message] = messages_after(INGESTION, lambda d: d["States"]["PromoteDatasets"].pop("Catch"))
    assert "state 'BronzeToSilver' breaks rule sync-task-catch-alerts" in message
    assert "the enclosing Map 'PromoteWave' does not catch into an alert either" in message


def test_unknown_placeholders_and_glue_jobs_are_reported() -> None:
    def unknown_placeholder(d: dict[str, Any]) -> None:
        d["States"]["TrainModel"]["Parameters"]["HyperParameters"]["bucket"] = "${ModelBucket}"

    def literal_job_name(d: dict[str, Any]) -> None:
        d["States"]["EvaluateModel"]["Parameters"]["JobName"] = "some-job"

    assert problems_after(TRAINING, unknown_placeholder) == [("TrainModel", "known-placeholder")]
    assert problems_after(TRAINING, literal_job_name) == [("EvaluateModel", "known-glue-job")]

    unregistered = dataclasses.replace(TRAINING, placeholders={**TRAINING.placeholders,
                                                               "EvaluateModelJobName": "no_such_job"})
    text = TRAINING.definition_path.read_text()
    assert [(p.state, p.rule) for p in validate_definition("training", text, unregistered, GLUE_JOBS)] == [
        ("EvaluateModel", "known-glue-job")]


def test_linter_and_parser_findings_name_the_state() -> None:
    assert ("BuildTrainingSet", "statelint") in problems_after(
        TRAINING, lambda d: d["States"]["BuildTrainingSet"].update(Next="Nowhere"))
    assert problems_after(TRAINING, lambda d: d["States"]["CreateModel"].update(
        Resource="arn:aws:states:::sagemaker:createModelX")) == [("CreateModel", "moto-parser")]
    assert problems_after(TRAINING, lambda d: d["States"]["BuildTrainingSet"].update(
        Resource="arn:aws:states:::glue:startJobRunX.sync")) == [("BuildTrainingSet", "moto-parser")]


def test_a_problem_reads_as_a_sentence() -> None:
    problem = Problem("training.asl.json", "TrainModel", "sync-task-retry", "the .sync task has no Retry")
    assert str(problem) == ("training.asl.json: state 'TrainModel' breaks rule sync-task-retry: "
                            "the .sync task has no Retry")


def test_an_invalid_json_definition_is_reported() -> None:
    assert [(p.state, p.rule) for p in validate_definition("x", "{not json", copy.copy(TRAINING))] == [
        ("(definition)", "json")]


def test_a_waves_datasets_run_at_once_within_what_the_glue_job_allows() -> None:
    """PromoteWave's MaxConcurrency and bronze_to_silver's MaxConcurrentRuns are one decision."""
    from pipelines.registry import GLUE_JOBS

    definition = json.loads(INGESTION.definition_path.read_text())
    assert asl.find_state(definition, "PromoteDatasets")["MaxConcurrency"] == 1  # one wave after the other
    wave = asl.find_state(definition, "PromoteWave")
    assert wave["MaxConcurrency"] == GLUE_JOBS["bronze_to_silver"].max_concurrent_runs > 1
