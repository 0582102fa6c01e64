"""Batch inference: the inference handlers, the scoring_input and store_scores Glue jobs (real Spark),
and the batch_inference state machine on the local engine with every job and the transform real."""

from __future__ import annotations

import io
import json
import re
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from jobs import scoring_input, store_scores
from jobs.lake import LakeLayout
from jobs.ml import inference, train
from jobs.ml.artifacts import DEFAULT_MODEL_NAME
from jobs.ml.feature_spec import FEATURE_COLUMNS
from jobs.tables import lake_table
from pipelines.local_engine import LocalSageMaker, LocalStepFunctions
from pipelines.local_run import LocalGlueRunner, execution_input, local_deploy_values, local_s3
from pipelines.registry import PIPELINES
from tests.test_training_pipeline import entered_states, tiny_training_rows
from tests.test_training_set import D1, D2, snapshot, txn, write_lake

BATCH = PIPELINES["batch_inference"]
DAY_TWO = [txn(f"T2{i:011d}", f"C{i % 3}", f"2024-03-02T{10 + i:02d}:00:00", fraud=None) for i in range(5)]
DAY_ONE = [txn("T1000000000001", "C0", "2024-03-01T09:00:00")]


def trained_bundle_dir(tmp_path: Path) -> Path:
    """A real model directory from train.py (its own functions, in-process, on one CPU)."""
    channel, model_dir = tmp_path / "channel", tmp_path / "model"
    channel.mkdir()
    tiny_training_rows(5, [D1, D2], rows_per_day=100).to_parquet(channel / "part.parquet", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_NUM_CPUS", "1")
        assert train.main(["--train", str(channel), "--model-dir", str(model_dir), "--output-data-dir",
                           str(tmp_path / "out"), "--model_version", "training-2024-02-25", "--max_iter", "20"]) == 0
    return model_dir


def deploy(tmp_path: Path, layout: LakeLayout) -> None:
    """What RecordDeployment leaves behind: the deployed archive and the pointer."""
    archive = Path(layout.deployed_model_artifact(DEFAULT_MODEL_NAME))
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(trained_bundle_dir(tmp_path) / "model.joblib", arcname="model.joblib")
    Path(layout.deployed_model_pointer(DEFAULT_MODEL_NAME)).write_text(json.dumps({"version": "training-2024-02-25"}))


def test_inference_handlers_score_json_lines_in_order(tmp_path: Path) -> None:
    model = inference.model_fn(str(trained_bundle_dir(tmp_path)))
    records = [{"transaction_id": f"T{i}", **{c: 0.5 for c in FEATURE_COLUMNS}} for i in range(3)]
    del records[1]["amount"]  # a missing feature is missing to the model, not an error
    body = "".join(json.dumps(r) + "\n" for r in records)

    frame = inference.input_fn(body.encode(), "application/jsonlines")
    output = inference.output_fn(inference.predict_fn(frame, model), "application/jsonlines")
    lines = [json.loads(line) for line in output.splitlines()]

    assert [line["transaction_id"] for line in lines] == ["T0", "T1", "T2"]
    assert all(0.0 <= line["fraud_score"] <= 1.0 for line in lines)
    assert {line["model_version"] for line in lines} == {"training-2024-02-25"}
    assert all(isinstance(line["is_flagged"], bool) for line in lines)
    with pytest.raises(inference.UnsupportedContentTypeError, match="text/csv"):
        inference.input_fn("a,b", "text/csv")


def test_scoring_input_writes_one_line_per_transaction_of_the_day(spark: SparkSession, tmp_path: Path) -> None:
    layout = write_lake(spark, tmp_path, [*DAY_ONE, *DAY_TWO], [("C0", "2024-02-01T00:00:00")],
                        [snapshot("C0", D1, "10.00")])
    args = {"run_date": "2024-03-02", "run_id": "batch_inference-2024-03-02", "pipeline": "batch_inference",
            "lake_root": str(tmp_path)}
    with pytest.raises(scoring_input.NoDeployedModelError, match="run the training pipeline first"):
        scoring_input.run(spark, args)

    deploy(tmp_path, layout)
    report = scoring_input.run(spark, args)
    lines = [json.loads(line) for line in
             (Path(scoring_input.scoring_partition(layout, D2)) / scoring_input.FILE_NAME).read_text().splitlines()]

    assert report["tables"]["scoring_input"]["rows_written"] == 5
    assert report["deployed_model_version"] == "training-2024-02-25"
    assert [line["transaction_id"] for line in lines] == [t[0] for t in DAY_TWO]
    assert set(lines[0]) <= {"transaction_id", *FEATURE_COLUMNS}
    assert lines[0]["has_history"] == 1.0 and lines[0]["avg_amount_30d"] == 10.0  # C0's snapshot of the day before
    with pytest.raises(scoring_input.NothingToScoreError, match="2024-03-05"):
        scoring_input.run(spark, {**args, "run_date": "2024-03-05"})


def write_transform_output(layout: LakeLayout, run_id: str, scores: list[tuple[str, float]]) -> None:
    folder = Path(store_scores.transform_output(layout, D2, run_id))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "part-00000.jsonl.out").write_text("".join(
        json.dumps({"transaction_id": t, "fraud_score": s, "is_flagged": s >= 0.5, "model_version": "v1"}) + "\n"
        for t, s in scores))


def scoring_lake(spark: SparkSession, tmp_path: Path) -> LakeLayout:
    layout = write_lake(spark, tmp_path, [*DAY_ONE, *DAY_TWO], [], [snapshot("C0", D1, "10.00")])
    folder = Path(scoring_input.scoring_partition(layout, D2))
    folder.mkdir(parents=True)
    (folder / scoring_input.FILE_NAME).write_text("".join(json.dumps({"transaction_id": t[0]}) + "\n"
                                                          for t in DAY_TWO))
    return layout


def test_store_scores_joins_each_score_back_to_its_transaction(spark: SparkSession, tmp_path: Path) -> None:
    layout = scoring_lake(spark, tmp_path)
    write_transform_output(layout, "r1", [(t[0], 0.1 * i) for i, t in enumerate(DAY_TWO)])
    report = store_scores.run(spark, {"run_date": "2024-03-02", "run_id": "r1", "lake_root": str(tmp_path)})

    stored = lake_table(spark, layout, "gold", "fraud_scores")
    assert report["tables"]["fraud_scores"]["rows_written"] == 5 and report["model_versions"] == ["v1"]
    assert sorted((r["transaction_id"], r["customer_id"], r["event_date"]) for r in stored.collect()) == sorted(
        (t[0], t[1], "2024-03-02") for t in DAY_TWO)
    assert stored.where("event_time is null or _run_id != 'r1'").count() == 0


@pytest.mark.parametrize(("scores", "problem"), [
    ([(t[0], 0.2) for t in DAY_TWO] + [(DAY_TWO[0][0], 0.3)], "1 transaction(s) scored more than once"),
    ([(t[0], 0.2) for t in DAY_TWO[1:]], "1 transaction(s) in the input but not scored"),
    ([(t[0], 0.2) for t in DAY_TWO] + [("T999", 0.1)], "1 transaction(s) scored but not in the input (e.g. T999)"),
    ([(t[0], 1.5 if i == 0 else 0.2) for i, t in enumerate(DAY_TWO)], "1 transaction(s) with a score outside 0..1"),
])
def test_store_scores_refuses_anything_but_one_valid_score_per_transaction(
        spark: SparkSession, tmp_path: Path, scores: list[tuple[str, float]], problem: str) -> None:
    layout = scoring_lake(spark, tmp_path)
    write_transform_output(layout, "r1", scores)
    with pytest.raises(store_scores.ScoresMismatchError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        store_scores.run(spark, {"run_date": "2024-03-02", "run_id": "r1", "lake_root": str(tmp_path)})
    assert not Path(layout.gold_table("fraud_scores")).exists()


def run_batch(lake_root: Path, spark: SparkSession, run_id: str = "batch_inference-2024-03-02",
              run_input: dict[str, Any] | None = None) -> Any:
    layout = LakeLayout.from_root(str(lake_root))
    sagemaker = LocalSageMaker(local_s3(lake_root), Path(layout.ops) / "sagemaker" / "logs")
    runner = LocalGlueRunner(lake_root, spark_factory=lambda: spark)
    with LocalStepFunctions(runner, Path(layout.alerts()), deterministic_jitter=True, sagemaker=sagemaker) as engine:
        return engine.run(BATCH.definition_path, {**local_deploy_values(), **BATCH.placeholders},
                          run_input or execution_input(BATCH, D2, run_id), execution_name=run_id,
                          state_machine_name="lakehouse-batch_inference")


def record_unlike_baseline(spark: SparkSession, layout: LakeLayout) -> None:
    """A drift baseline for the deployed version from training rows unlike the day (uniform 0..1 features)."""
    from jobs.drift.baseline import baseline_document, baseline_path, feature_profiles
    from jobs.drift.settings import DriftSettings
    from jobs.storage import write_json

    rows = tiny_training_rows(5, [D1], rows_per_day=200)[list(FEATURE_COLUMNS)]
    settings = DriftSettings()
    write_json(baseline_path(layout, DEFAULT_MODEL_NAME, "training-2024-02-25"),
               baseline_document(DEFAULT_MODEL_NAME, "training-2024-02-25",
                                 feature_profiles(spark.createDataFrame(rows), settings), None, settings))


@pytest.mark.integration
def test_the_batch_inference_pipeline_scores_every_transaction_of_the_day(spark: SparkSession,
                                                                          tmp_path: Path) -> None:
    layout = write_lake(spark, tmp_path, [*DAY_ONE, *DAY_TWO], [("C0", "2024-02-01T00:00:00")],
                        [snapshot("C0", D1, "10.00")])
    deploy(tmp_path, layout)
    record_unlike_baseline(spark, layout)
    result = run_batch(tmp_path, spark).raise_for_status()

    assert entered_states(result) == ["ResolveRunDate", "Defaults", "ApplyDefaults", "NameResources",
                                      "PrepareScoringInput", "CreateScoringModel", "ScoreTransactions",
                                      "StoreScores", "MeasureDrift", "ReadDrift", "DriftCrossed", "NotifyDrift",
                                      "FinalizeRun", "BatchInferenceSucceeded"]
    # the day looks nothing like the baseline: drift is measured, stored and alerted on the alert topic
    [alert] = [json.loads(Path(path).read_text()) for path in result.alerts]
    assert alert["subject"] == "lakehouse drift 2024-03-02: retrain against model training-2024-02-25"
    assert "amount PSI " in alert["message"] and "report.html" in alert["message"]
    drift = lake_table(spark, layout, "gold", "feature_drift").where("event_date = '2024-03-02'").toPandas()
    assert "retrain" in set(drift["verdict"]) and set(drift["model_version"]) == {"training-2024-02-25"}
    [transform] = result.sagemaker_runs
    assert (transform.name, transform.status) == ("lakehouse-local-fraud-score-2024-03-02-a1-r0", "Completed")
    stored = lake_table(spark, layout, "gold", "fraud_scores").where("event_date = '2024-03-02'").toPandas()
    assert sorted(stored["transaction_id"]) == sorted(t[0] for t in DAY_TWO)
    assert stored["transaction_id"].is_unique and stored["fraud_score"].between(0, 1).all()
    assert set(stored["model_version"]) == {"training-2024-02-25"}
    manifest = json.loads(Path(layout.manifest("batch_inference", D2, "batch_inference-2024-03-02")).read_text())
    assert manifest["status"] == "SUCCEEDED"
    assert manifest["jobs"]["store_scores"]["tables"]["fraud_scores"]["rows_written"] == 5


def manifest_of_day(layout: LakeLayout, run_id: str) -> dict[str, Any]:
    return json.loads(Path(layout.manifest("batch_inference", D2, run_id)).read_text())


def eventbridge_input(transformer: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    """What EventBridge sends: each `<var>` of the template replaced by the JSON value at its path."""
    body = transformer["InputTemplate"]
    for var, path in transformer["InputPathsMap"].items():
        value: Any = event
        for part in path.removeprefix("$.").split("."):
            value = value[part]
        body = body.replace(f"<{var}>", json.dumps(value))
    return json.loads(body)


@pytest.mark.integration
def test_a_run_started_by_the_ingestion_success_event_scores_that_ingestion_date(spark: SparkSession,
                                                                               tmp_path: Path) -> None:
    """On AWS, ingestion's SUCCEEDED event starts batch inference (infra.orchestration's rule and input
    transformer); the definition reads the run date from the ingestion execution's output."""
    from infra.orchestration import trigger_input, upstream_succeeded_pattern

    layout = write_lake(spark, tmp_path, [*DAY_ONE, *DAY_TWO], [("C0", "2024-02-01T00:00:00")],
                        [snapshot("C0", D1, "10.00")])
    deploy(tmp_path, layout)
    assert BATCH.triggered_by == "ingestion"
    assert upstream_succeeded_pattern(BATCH)["detail"]["status"] == ["SUCCEEDED"]
    ingestion_output = {"run_date": "2024-03-02", "run_id": "scheduled-7f3e", "pipeline": "ingestion",
                        "datasets": ["transactions"], "finalize_run": {"JobRunState": "SUCCEEDED"}}
    event = {"source": "aws.states", "detail-type": "Step Functions Execution Status Change",
             "detail": {"name": "0b6c1f9e-ingestion", "status": "SUCCEEDED", "output": json.dumps(ingestion_output)}}
    run_input = eventbridge_input(trigger_input(BATCH), event)

    result = run_batch(tmp_path, spark, run_id="0d2a-triggered", run_input=run_input).raise_for_status()

    # no baseline recorded for the deployed version (trained before baselines existed): not measured, no alert
    assert manifest_of_day(layout, "batch_inference-2024-03-02")["jobs"]["feature_drift"]["verdict"] == "no_baseline"
    assert "DriftCrossed" in entered_states(result) and "NotifyDrift" not in entered_states(result)
    assert entered_states(result)[:5] == ["ResolveRunDate", "ReadUpstreamOutput", "RunDateFromUpstream",
                                          "Defaults", "ApplyDefaults"]
    [transform] = result.sagemaker_runs
    assert re.fullmatch(r"lakehouse-local-fraud-score-2024-03-02-a[0-9a-f]{8}-r0", transform.name), transform.name
    stored = lake_table(spark, layout, "gold", "fraud_scores").where("event_date = '2024-03-02'").toPandas()
    assert sorted(stored["transaction_id"]) == sorted(t[0] for t in DAY_TWO)
    manifest = json.loads(Path(layout.manifest("batch_inference", D2, "batch_inference-2024-03-02")).read_text())
    assert manifest["status"] == "SUCCEEDED"


def test_a_run_with_no_date_and_no_upstream_output_fails_naming_what_is_missing(tmp_path: Path) -> None:
    calls: list[tuple[str, dict]] = []
    with LocalStepFunctions(lambda name, args: calls.append((name, args)), tmp_path / "alerts") as engine:
        result = engine.run(BATCH.definition_path, {**local_deploy_values(), **BATCH.placeholders},
                            {"pipeline": "batch_inference"}, "no-date", "lakehouse-batch_inference")
    assert (result.status, result.error) == ("FAILED", "MissingRunDate")
    assert "upstream_output" in result.cause and calls == []


@pytest.mark.integration
def test_without_a_deployed_model_the_run_fails_early_and_alerts(spark: SparkSession, tmp_path: Path) -> None:
    write_lake(spark, tmp_path, [*DAY_ONE, *DAY_TWO], [], [snapshot("C0", D1, "10.00")])
    result = run_batch(tmp_path, spark)

    assert (result.status, result.error) == ("FAILED", "BatchInferenceFailed")
    assert entered_states(result)[-4:] == ["PrepareScoringInput", "NotifyFailure", "RecordFailure",
                                           "BatchInferenceFailed"]
    assert "run the training pipeline first" in result.cause
    assert result.sagemaker_runs == [] and len(result.alerts) == 1


def test_to_json_lines_keeps_missing_features_as_null() -> None:
    frame = pd.DataFrame({"transaction_id": ["T1"], "amount": [np.nan]})
    text = frame.to_json(orient="records", lines=True)
    assert json.loads(io.StringIO(text).readline()) == {"transaction_id": "T1", "amount": None}
