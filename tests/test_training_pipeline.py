"""The training state machine, run for real on the local engine, in seconds.

What is real: the checked-in definition on moto's interpreter, every Retry/Catch/Choice, SageMaker
training (jobs/ml/train.py in its own process with the script-mode environment), SNS → alert files,
and the record_model and finalize_run jobs. The two Spark jobs are replaced at the Glue boundary
(`SparklessTrainingJobs`): `training_set` writes a small labelled Parquet training set and
`evaluate_model` evaluates the real model archive with the real evaluation code, reading the
Parquet with pyarrow instead of Spark. Those jobs' Spark code is tested in test_training_set.py and
end to end in test_training_end_to_end.py.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest

from jobs import finalize_run
from jobs.lake import LakeLayout
from jobs.ml import record_model
from jobs.ml.artifacts import DEFAULT_MODEL_NAME, training_output_archive
from jobs.ml.evaluate_model import deployed_champion, evaluation_document, load_archived_bundle, write_evaluation
from jobs.ml.feature_spec import FEATURE_COLUMNS, LABEL_COLUMN
from jobs.storage import read_bytes
from pipelines.local_engine import ExecutionResult, LocalSageMaker, LocalStepFunctions, SageMakerRun
from pipelines.local_run import execution_input, local_deploy_values, local_s3
from pipelines.registry import PIPELINES, glue_job_for_name

TRAINING = PIPELINES["training"]
RUN_DATE = date(2024, 2, 14)
HOLDOUT_DAYS = 2


def tiny_training_rows(seed: int, days: list[date], rows_per_day: int = 150,
                       single_class: bool = False) -> pd.DataFrame:
    """Feature rows whose label depends on three features (learnable, and not by amount alone)."""
    rng = np.random.default_rng(seed)
    n = len(days) * rows_per_day
    frame = pd.DataFrame({name: rng.random(n) for name in FEATURE_COLUMNS})
    frame["is_night"] = (rng.random(n) < 0.25).astype(float)
    frame["txn_count_prev_10m"] = rng.poisson(0.4, n).astype(float)
    frame["category_gambling"] = (rng.random(n) < 0.2).astype(float)
    logit = -3.5 + 2.5 * frame["is_night"] + 1.6 * frame["txn_count_prev_10m"] + 2.0 * frame["category_gambling"]
    frame[LABEL_COLUMN] = 0 if single_class else (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["event_date"] = [d.isoformat() for d in days for _ in range(rows_per_day)]
    frame["transaction_id"] = [f"T{i:012X}" for i in range(n)]
    frame["customer_id"] = [f"C{i % 97:08d}" for i in range(n)]
    return frame


class SparklessTrainingJobs:
    """The Glue boundary: Spark-free `training_set` and `evaluate_model`, the real registry jobs.

    `fail` maps a job's logical name to how many of its runs raise before it works again.
    """

    def __init__(self, lake_root: Path, single_class: bool = False, fail: dict[str, int] | None = None):
        self.lake_root = lake_root
        self.layout = LakeLayout.from_root(str(lake_root))
        self.single_class = single_class
        self.fail = dict(fail or {})
        self.calls: list[tuple[str, dict[str, str]]] = []

    def __call__(self, job_name: str, arguments: dict[str, str]) -> None:
        name = glue_job_for_name(job_name).name
        args: dict[str, Any] = {k.removeprefix("--"): v for k, v in arguments.items()}
        args["lake_root"] = str(self.lake_root)
        self.calls.append((name, arguments))
        if self.fail.get(name, 0) > 0:
            self.fail[name] -= 1
            raise RuntimeError(f"injected failure of {name}")
        {"training_set": self.training_set, "evaluate_model": self.evaluate_model,
         # Profiling the training set needs Spark: the baseline job is exercised in tests/test_drift.py.
         "drift_baseline": lambda a: None,
         "record_model": lambda a: record_model.run(None, a),
         "finalize_run": lambda a: finalize_run.run(None, a)}[name](args)

    def split_path(self, run_date: str, split: str) -> Path:
        return Path(self.layout.sagemaker_channel("training_set", run_date, split))

    def training_set(self, args: dict[str, Any]) -> None:
        day = date.fromisoformat(args["run_date"])
        days = [day - timedelta(days=i) for i in range(6, -1, -1)]
        seed = day.toordinal()
        for split, split_days in (("train", days[:-HOLDOUT_DAYS]), ("holdout", days[-HOLDOUT_DAYS:])):
            folder = self.split_path(args["run_date"], split)
            folder.mkdir(parents=True, exist_ok=True)
            rows = tiny_training_rows(seed + len(split), split_days, single_class=self.single_class)
            rows.to_parquet(folder / "part-00000.parquet", index=False)

    def evaluate_model(self, args: dict[str, Any]) -> None:
        archive = read_bytes(training_output_archive(self.layout, DEFAULT_MODEL_NAME, args["run_id"],
                                                     args["training_job_name"]))
        train = pd.read_parquet(self.split_path(args["run_date"], "train"))
        holdout = pd.read_parquet(self.split_path(args["run_date"], "holdout"))
        document = evaluation_document(load_archived_bundle(archive), holdout, float(train[LABEL_COLUMN].mean()),
                                       deployed_champion(self.layout, DEFAULT_MODEL_NAME),
                                       {"model_name": DEFAULT_MODEL_NAME, "version": args["run_id"],
                                        "training_job_name": args["training_job_name"]})
        write_evaluation(self.layout, DEFAULT_MODEL_NAME, args["run_id"], archive, document)


class FlakySageMaker(LocalSageMaker):
    """Real local SageMaker whose first `failures` training jobs fail as a lost instance would."""

    def __init__(self, *args: Any, failures: int = 1, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.failures = failures

    def train(self, name: str, request: dict[str, Any]) -> SageMakerRun:
        if self.failures > 0:
            self.failures -= 1
            return SageMakerRun("training", name, "Failed", "InternalServerError: We encountered an internal error. "
                                                            "Please try again.")
        return super().train(name, request)


def engine_for(lake_root: Path, jobs: SparklessTrainingJobs, sagemaker: LocalSageMaker | None = None
               ) -> LocalStepFunctions:
    layout = LakeLayout.from_root(str(lake_root))
    sagemaker = sagemaker or LocalSageMaker(local_s3(lake_root), Path(layout.ops) / "sagemaker" / "logs")
    return LocalStepFunctions(jobs, Path(layout.alerts()), deterministic_jitter=True, sagemaker=sagemaker)


def run_training(engine: LocalStepFunctions, run_date: date = RUN_DATE, run_id: str | None = None,
                 extra: dict[str, Any] | None = None) -> ExecutionResult:
    run_id = run_id or f"training-{run_date.isoformat()}"
    return engine.run(TRAINING.definition_path, {**local_deploy_values(), **TRAINING.placeholders},
                      execution_input(TRAINING, run_date, run_id, extra), execution_name=run_id,
                      state_machine_name="lakehouse-training")


def entered_states(result: ExecutionResult) -> list[str]:
    return [event["stateEnteredEventDetails"]["name"] for event in result.history
            if event["type"].endswith("StateEntered")]


def manifest_of(lake_root: Path, run_id: str, run_date: date = RUN_DATE) -> dict[str, Any]:
    path = LakeLayout.from_root(str(lake_root)).manifest("training", run_date, run_id)
    return json.loads(Path(path).read_text())


def registry(lake_root: Path) -> Path:
    return Path(LakeLayout.from_root(str(lake_root)).model_registry(DEFAULT_MODEL_NAME))


def alert_subjects(result: ExecutionResult) -> list[str]:
    return [json.loads(Path(path).read_text())["subject"] for path in result.alerts]


DEPLOY_PATH = ["ResolveRunDate", "Defaults", "ApplyDefaults", "NameResources", "ReadDriftVerdict", "NoDriftVerdict",
               "DriftGate", "BuildTrainingSet", "TrainModel", "EvaluateModel", "RecordDriftBaseline", "ReadEvaluation",
               "CheckModel", "CreateModel", "CreateEndpointConfig", "CreateEndpoint"]


@pytest.mark.integration
def test_a_good_model_is_trained_evaluated_deployed_and_recorded(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path)
    with engine_for(tmp_path, jobs) as engine:
        result = run_training(engine).raise_for_status()
        endpoint = boto3.client("sagemaker", region_name="us-east-1").describe_endpoint(
            EndpointName="lakehouse-local-fraud")

    assert entered_states(result) == [*DEPLOY_PATH, "RecordDeployment", "FinalizeRun", "TrainingSucceeded"]
    [training] = result.sagemaker_runs
    assert (training.kind, training.name, training.status) == (
        "training", "lakehouse-local-fraud-train-2024-02-14-a1-r0", "Completed")
    assert training.metrics["train:rows"] == 750 and 0.5 < training.metrics["train:auc"] <= 1.0
    version = registry(tmp_path) / "training-2024-02-14"
    metrics = json.loads((version / "metrics.json").read_text())
    assert metrics["auc"] >= 0.7 and metrics["auc"] > metrics["baseline"]["auc"] and metrics["champion"] is None
    assert (version / "model.joblib").is_file()
    assert json.loads((version / "decision.json").read_text())["decision"] == "deployed"
    pointer = json.loads((registry(tmp_path) / "deployed.json").read_text())
    assert (pointer["version"], pointer["endpoint_config"], pointer["previous"]) == (
        "training-2024-02-14", "lakehouse-local-fraud-2024-02-14-a1", None)
    assert (registry(tmp_path) / "deployed" / "model.tar.gz").read_bytes() == (
        version / training.name / "output" / "model.tar.gz").read_bytes()
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService",
                                                                            "lakehouse-local-fraud-2024-02-14-a1")
    assert manifest_of(tmp_path, "training-2024-02-14")["status"] == "SUCCEEDED"
    assert result.alerts == []


@pytest.mark.integration
def test_the_next_model_switches_the_existing_endpoint_to_its_own_endpoint_config(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path)
    later = RUN_DATE + timedelta(days=7)
    with engine_for(tmp_path, jobs) as engine:
        run_training(engine).raise_for_status()
        # The deployed model is the bar now: allow a tie so the second (equally good) model deploys.
        second = run_training(engine, later).raise_for_status()
        sagemaker = boto3.client("sagemaker", region_name="us-east-1")
        endpoint = sagemaker.describe_endpoint(EndpointName="lakehouse-local-fraud")
        configs = {c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]}

    states = entered_states(second)
    assert states[states.index("CreateEndpoint") + 1] == "UpdateEndpoint"
    entered = next(i for i, e in enumerate(second.history) if e["type"] == "TaskStateEntered"
                   and e["stateEnteredEventDetails"]["name"] == "CreateEndpoint")
    failure = next(e for e in second.history[entered:] if e["type"] == "TaskFailed")
    assert failure["taskFailedEventDetails"]["error"] == "SageMaker.AmazonSageMakerException"
    assert "Cannot create already existing endpoint" in failure["taskFailedEventDetails"]["cause"]
    assert endpoint["EndpointConfigName"] == "lakehouse-local-fraud-2024-02-21-a1"
    assert configs == {"lakehouse-local-fraud-2024-02-14-a1", "lakehouse-local-fraud-2024-02-21-a1"}
    pointer = json.loads((registry(tmp_path) / "deployed.json").read_text())
    assert pointer["version"] == "training-2024-02-21"
    assert pointer["previous"]["version"] == "training-2024-02-14"
    metrics = json.loads((registry(tmp_path) / "training-2024-02-21" / "metrics.json").read_text())
    assert metrics["champion"]["version"] == "training-2024-02-14"


@pytest.mark.integration
def test_a_model_below_the_bar_is_recorded_alerted_and_not_deployed(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path)
    with engine_for(tmp_path, jobs) as engine:
        result = run_training(engine, extra={"model_bar": {"min_auc": 0.999}})
        endpoints = boto3.client("sagemaker", region_name="us-east-1").list_endpoints()["Endpoints"]

    assert (result.status, result.error) == ("FAILED", "ModelRejected")
    assert "bar 0.999" in result.cause
    assert entered_states(result)[12:] == ["CheckModel", "RecordRejection", "NotifyRejection", "RecordRejectedRun",
                                          "ModelRejected"]
    assert alert_subjects(result) == ["lakehouse training: model REJECTED for run_date 2024-02-14"]
    assert endpoints == [] and not (registry(tmp_path) / "deployed.json").exists()
    decision = json.loads((registry(tmp_path) / "training-2024-02-14" / "decision.json").read_text())
    assert decision["decision"] == "rejected" and decision["metrics"]["auc"] < 0.999
    manifest = manifest_of(tmp_path, "training-2024-02-14")
    assert manifest["status"] == "FAILED" and manifest["error"].startswith("ModelRejected: held-out AUC")


def train_on_noisier_labels(jobs: SparklessTrainingJobs) -> None:
    """From now on, flip a third of the training labels: a weaker model, judged on the same clean holdout."""
    original = jobs.training_set

    def noisier_training_set(args: dict[str, Any]) -> None:
        original(args)
        path = jobs.split_path(args["run_date"], "train") / "part-00000.parquet"
        frame = pd.read_parquet(path)
        flip = np.random.default_rng(3).random(len(frame)) < 0.35
        frame.loc[flip, LABEL_COLUMN] = 1 - frame.loc[flip, LABEL_COLUMN]
        frame.to_parquet(path, index=False)

    jobs.training_set = noisier_training_set  # type: ignore[method-assign]


@pytest.mark.integration
def test_a_worse_model_than_the_deployed_one_is_rejected(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path)
    with engine_for(tmp_path, jobs) as engine:
        run_training(engine).raise_for_status()
        train_on_noisier_labels(jobs)
        # No bar: only the comparisons with the baseline and with the deployed model decide.
        result = run_training(engine, RUN_DATE + timedelta(days=7), extra={"model_bar": {"min_auc": 0.0}})

    assert (result.status, result.error) == ("FAILED", "ModelRejected")
    metrics = json.loads((registry(tmp_path) / "training-2024-02-21" / "metrics.json").read_text())
    assert metrics["champion"]["version"] == "training-2024-02-14"
    assert metrics["baseline"]["auc"] < metrics["auc"] < metrics["champion"]["auc"]
    assert json.loads((registry(tmp_path) / "deployed.json").read_text())["version"] == "training-2024-02-14"


def write_drift_verdict(lake_root: Path, verdict: str, day: str = "2024-02-20") -> None:
    """What batch inference's feature_drift job leaves for training: the newest date's verdict."""
    path = Path(LakeLayout.from_root(str(lake_root)).drift_verdict(DEFAULT_MODEL_NAME))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"date": day, "verdict": verdict, "warn": [],
                                "retrain": ["amount"] if verdict == "retrain" else []}))


@pytest.mark.integration
def test_under_retrain_drift_a_new_model_replaces_the_deployed_one_without_beating_it(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path)
    with engine_for(tmp_path, jobs) as engine:
        run_training(engine).raise_for_status()
        train_on_noisier_labels(jobs)
        write_drift_verdict(tmp_path, "retrain")
        result = run_training(engine, RUN_DATE + timedelta(days=7), extra={"model_bar": {"min_auc": 0.0}})

    result.raise_for_status()
    assert entered_states(result)[4:7] == ["ReadDriftVerdict", "KeepDriftVerdict", "DriftGate"]
    metrics = json.loads((registry(tmp_path) / "training-2024-02-21" / "metrics.json").read_text())
    assert metrics["auc"] < metrics["champion"]["auc"]  # the same candidate is rejected without drift (above)
    assert json.loads((registry(tmp_path) / "deployed.json").read_text())["version"] == "training-2024-02-21"


@pytest.mark.integration
def test_a_run_that_retrains_only_on_drift_skips_training_while_the_verdict_is_ok(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path)
    write_drift_verdict(tmp_path, "ok")
    with engine_for(tmp_path, jobs) as engine:
        skipped = run_training(engine, extra={"retrain_only_on_drift": True}).raise_for_status()
        skipped_jobs = [name for name, _ in jobs.calls]
        write_drift_verdict(tmp_path, "warn", day="2024-02-21")
        trained = run_training(engine, RUN_DATE + timedelta(days=7),
                               extra={"retrain_only_on_drift": True}).raise_for_status()

    assert entered_states(skipped)[4:] == ["ReadDriftVerdict", "KeepDriftVerdict", "DriftGate", "NoDriftNoTraining",
                                           "FinalizeRun", "TrainingSucceeded"]
    assert skipped_jobs == ["finalize_run"] and manifest_of(tmp_path, "training-2024-02-14")["status"] == "SUCCEEDED"
    assert "BuildTrainingSet" in entered_states(trained)
    assert json.loads((registry(tmp_path) / "deployed.json").read_text())["version"] == "training-2024-02-21"


@pytest.mark.integration
def test_a_glue_job_failing_once_is_retried_without_sleeping(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path, fail={"training_set": 1})
    with engine_for(tmp_path, jobs) as engine:
        result = run_training(engine).raise_for_status()

    assert [name for name, _ in jobs.calls].count("training_set") == 2
    assert result.retry_delays == [60.0]  # requested by Retry (States.TaskFailed), never slept
    assert result.elapsed_seconds < 60
    assert result.alerts == []


@pytest.mark.integration
def test_a_glue_job_that_always_fails_alerts_records_the_failure_and_fails_the_run(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path, fail={"evaluate_model": 99})
    with engine_for(tmp_path, jobs) as engine:
        result = run_training(engine)

    assert (result.status, result.error) == ("FAILED", "TrainingFailed")
    assert entered_states(result)[-4:] == ["EvaluateModel", "NotifyFailure", "RecordFailure", "TrainingFailed"]
    assert [name for name, _ in jobs.calls].count("evaluate_model") == 2  # the run and its one retry
    assert alert_subjects(result) == ["lakehouse training FAILED for run_date 2024-02-14"]
    manifest = manifest_of(tmp_path, "training-2024-02-14")
    assert manifest["status"] == "FAILED" and "injected failure of evaluate_model" in manifest["error"]


@pytest.mark.integration
def test_a_training_job_failing_once_is_retried_under_a_new_name(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path)
    layout = LakeLayout.from_root(str(tmp_path))
    flaky = FlakySageMaker(local_s3(tmp_path), Path(layout.ops) / "sagemaker" / "logs", failures=1)
    with engine_for(tmp_path, jobs, flaky) as engine:
        result = run_training(engine).raise_for_status()

    assert [(run.name, run.status) for run in result.sagemaker_runs] == [
        ("lakehouse-local-fraud-train-2024-02-14-a1-r0", "Failed"),
        ("lakehouse-local-fraud-train-2024-02-14-a1-r1", "Completed")]
    assert result.retry_delays == [60.0]


@pytest.mark.integration
def test_a_training_job_that_fails_alerts_with_the_algorithm_error(tmp_path: Path) -> None:
    jobs = SparklessTrainingJobs(tmp_path, single_class=True)  # train.py refuses a one-class training set
    with engine_for(tmp_path, jobs) as engine:
        result = run_training(engine)

    assert (result.status, result.error) == ("FAILED", "TrainingFailed")
    assert [run.status for run in result.sagemaker_runs] == ["Failed", "Failed"]
    assert "AlgorithmError: TrainingDataError: the training set needs both classes" in (
        result.sagemaker_runs[0].failure_reason or "")
    failed = [e for e in result.history if e["type"] == "TaskFailed"
              and e["taskFailedEventDetails"]["resourceType"] == "sagemaker"]  # not the absent drift verdict's read
    assert {e["taskFailedEventDetails"]["error"] for e in failed} == {"States.TaskFailed"}
    assert "TrainingDataError" in json.loads(failed[-1]["taskFailedEventDetails"]["cause"])["FailureReason"]
    assert entered_states(result)[-3:] == ["NotifyFailure", "RecordFailure", "TrainingFailed"]
    assert len(result.alerts) == 1
    assert "TrainingDataError" in manifest_of(tmp_path, "training-2024-02-14")["error"]


def test_a_scheduled_run_takes_its_run_date_from_the_schedule_and_names_its_resources_uniquely(
        tmp_path: Path) -> None:
    """EventBridge sends scheduled_time (infra.orchestration.schedule_input): the run date is its UTC date, and
    the SageMaker names get a random attempt token so they cannot collide with a manual run of that date."""
    from infra.orchestration import schedule_input
    from pipelines.registry import PIPELINES

    spec = PIPELINES["training"]
    template = schedule_input(spec, [])["InputTemplate"]
    scheduled = json.loads(template.replace("<time>", '"2024-02-18T05:00:00Z"').replace("<id>", "e1"))
    calls: list[tuple[str, dict]] = []

    def refuse_training_set(job: str, args: dict[str, str]) -> None:
        calls.append((job, args))
        if job == "training_set":
            raise ValueError("no gold features yet")

    with LocalStepFunctions(refuse_training_set, tmp_path / "alerts", deterministic_jitter=True) as engine:
        result = engine.run(spec.definition_path, {**local_deploy_values(), **spec.placeholders}, scheduled,
                            "scheduled-e1", "lakehouse-training")

    assert (result.status, result.error) == ("FAILED", "TrainingFailed")
    assert entered_states(result)[:3] == ["ResolveRunDate", "RunDateFromSchedule", "Defaults"]
    assert calls[0][0] == "training_set"
    assert (calls[0][1]["--run_date"], calls[0][1]["--run_id"]) == ("2024-02-18", "scheduled-e1")
    names = next(json.loads(e["stateExitedEventDetails"]["output"])["names"] for e in result.history
                 if e["type"] == "PassStateExited" and e["stateExitedEventDetails"]["name"] == "NameResources")
    assert re.fullmatch(r"lakehouse-local-fraud-2024-02-18-a[0-9a-f]{8}", names["model"]), names
    assert calls[-1][0] == "finalize_run" and calls[-1][1]["--status"] == "FAILED"
