"""Local SageMaker: the script-mode and inference-handler contracts, and the moto patches that let
the Step Functions interpreter run `sagemaker:*` tasks (`.sync` included) and UpdateEndpoint.

Probe scripts stand in for user code so each contract detail is observed from the inside.
"""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipelines.local_engine import LocalS3, LocalSageMaker, LocalStepFunctions, UnmappedS3UriError
from pipelines.local_engine.sagemaker_jobs import parse_metrics
from pipelines.local_engine.sagemaker_patches import sagemaker_error_name

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PROBE_TRAINING = '''
import json, os, sys
model_dir = os.environ["SM_MODEL_DIR"]
seen = {"argv": sys.argv[1:], "cwd": os.getcwd(),
        "env": {k: v for k, v in os.environ.items() if k.startswith("SM_") or k == "TRAINING_JOB_NAME"},
        "train_files": sorted(str(p.relative_to(os.environ["SM_CHANNEL_TRAIN"]))
                              for p in __import__("pathlib").Path(os.environ["SM_CHANNEL_TRAIN"]).rglob("*")
                              if p.is_file()),
        "helper": __import__("helper").VALUE}
with open(os.path.join(model_dir, "probe.json"), "w") as f:
    json.dump(seen, f)
with open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "notes.txt"), "w") as f:
    f.write("extra output")
print("probe:score=0.25")
print("probe:score=0.75")
if os.environ.get("SM_HP_FAIL") == "with-file":
    open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w").write("ValueError: bad hyperparameter")
    sys.exit(3)
if os.environ.get("SM_HP_FAIL") == "crash":
    raise RuntimeError("boom in training")
if os.environ.get("SM_HP_FAIL") == "slow":
    __import__("time").sleep(30)
'''
PROBE_HANDLERS = '''
import json
CALLS = []
def model_fn(model_dir):
    return {"weights": json.load(open(model_dir + "/weights.json"))}
def input_fn(body, content_type):
    assert content_type == "application/jsonlines", content_type
    CALLS.append(len(body.splitlines()))
    return [json.loads(line) for line in body.splitlines()]
def predict_fn(rows, model):
    return [{"id": r["id"], "score": r["x"] * model["weights"]["w"], "batch_size": CALLS[-1]} for r in rows]
def output_fn(prediction, accept):
    return "".join(json.dumps(p) + "\\n" for p in prediction), accept
'''


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "probe_train.py").write_text(PROBE_TRAINING)
    (code / "helper.py").write_text("VALUE = 'sibling modules import as top-level modules'\n")
    (code / "handlers.py").write_text(PROBE_HANDLERS)
    return code


@pytest.fixture
def s3(tmp_path: Path, source_dir: Path) -> LocalS3:
    (tmp_path / "gold").mkdir()
    (tmp_path / "ops").mkdir()
    return LocalS3({"s3://gold/": tmp_path / "gold", "s3://artifacts/ops/": tmp_path / "ops",
                    "s3://artifacts/code/sourcedir.tar.gz": source_dir})


def training_request(hyperparameters: dict[str, str] | None = None, max_runtime: int = 600) -> dict[str, Any]:
    return {
        "AlgorithmSpecification": {"TrainingImage": SKLEARN, "TrainingInputMode": "File",
                                   "MetricDefinitions": [{"Name": "probe:score", "Regex": "probe:score=([0-9.]+)"}]},
        "HyperParameters": {"sagemaker_program": "probe_train.py",
                            "sagemaker_submit_directory": "s3://artifacts/code/sourcedir.tar.gz",
                            "alpha": "0.5", **(hyperparameters or {})},
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                     "S3Uri": "s3://gold/set/split=train/"}}},
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://artifacts/ops/models/m/v1"},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
    }


def write_training_data(tmp_path: Path) -> None:
    (tmp_path / "gold/set/split=train/day=1").mkdir(parents=True)
    (tmp_path / "gold/set/split=train/day=1/part-0.parquet").write_text("rows")
    (tmp_path / "gold/set/split=train/_SUCCESS").write_text("")


def members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_training_runs_the_entry_point_with_the_script_mode_environment(tmp_path: Path, s3: LocalS3,
                                                                        source_dir: Path) -> None:
    write_training_data(tmp_path)
    run = LocalSageMaker(s3, tmp_path / "logs").train("job-1", training_request())

    assert (run.status, run.failure_reason) == ("Completed", None)
    output = tmp_path / "ops/models/m/v1/job-1/output"
    assert run.outputs == ["s3://artifacts/ops/models/m/v1/job-1/output/model.tar.gz"]
    seen = json.loads(members(output / "model.tar.gz")["probe.json"])
    assert seen["argv"] == ["--alpha", "0.5"]
    assert seen["cwd"] == str(source_dir)
    assert seen["helper"] == "sibling modules import as top-level modules"
    assert seen["train_files"] == ["_SUCCESS", "day=1/part-0.parquet"]  # the whole prefix, folders kept
    env = seen["env"]
    assert env["TRAINING_JOB_NAME"] == "job-1"
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert json.loads(env["SM_HPS"]) == {"alpha": 0.5}  # sagemaker_* are not the script's hyperparameters
    assert env["SM_HP_ALPHA"] == "0.5"
    assert env["SM_CHANNEL_TRAIN"].endswith("/opt/ml/input/data/train")
    assert env["SM_MODEL_DIR"].endswith("/opt/ml/model")
    assert env["SM_OUTPUT_DATA_DIR"].endswith("/opt/ml/output/data")
    assert members(output / "output.tar.gz") == {"notes.txt": b"extra output"}
    assert run.metrics == {"probe:score": 0.75}  # the last value, as FinalMetricDataList reports
    assert "probe:score=0.25" in Path(run.log_path or "").read_text()


@pytest.mark.parametrize(("fail", "reason", "status"), [
    ("with-file", "AlgorithmError: ValueError: bad hyperparameter (exit code 3", "Failed"),
    ("crash", "RuntimeError: boom in training", "Failed"),
])
def test_a_failing_script_fails_the_job_with_its_reason(tmp_path: Path, s3: LocalS3, fail: str, reason: str,
                                                        status: str) -> None:
    write_training_data(tmp_path)
    run = LocalSageMaker(s3, tmp_path / "logs").train("job-f", training_request({"fail": fail}))

    assert run.status == status and reason in (run.failure_reason or "")
    assert not (tmp_path / "ops/models/m/v1/job-f/output/model.tar.gz").exists()


def test_max_runtime_stops_the_job(tmp_path: Path, s3: LocalS3) -> None:
    write_training_data(tmp_path)
    started = time.monotonic()
    run = LocalSageMaker(s3, tmp_path / "logs").train("job-s", training_request({"fail": "slow"}, max_runtime=2))

    assert run.status == "Stopped" and (run.failure_reason or "").startswith("MaxRuntimeExceeded")
    assert time.monotonic() - started < 20


def test_missing_channel_data_and_foreign_images_fail_like_sagemaker(tmp_path: Path, s3: LocalS3) -> None:
    runner = LocalSageMaker(s3, tmp_path / "logs")
    missing = runner.train("job-m", training_request())
    assert missing.status == "Failed"
    assert 'No S3 objects found under S3 URL "s3://gold/set/split=train/"' in (missing.failure_reason or "")

    write_training_data(tmp_path)
    request = training_request()
    request["AlgorithmSpecification"]["TrainingImage"] = "123.dkr.ecr.us-east-1.amazonaws.com/xgboost:1"
    foreign = runner.train("job-x", request)
    assert foreign.status == "Failed" and "scikit-learn" in (foreign.failure_reason or "")


def test_s3_uris_outside_every_mount_are_refused(s3: LocalS3, tmp_path: Path) -> None:
    assert s3.to_local("s3://gold/a/b.json") == tmp_path / "gold/a/b.json"
    assert s3.to_local("s3://artifacts/ops") == tmp_path / "ops"
    with pytest.raises(UnmappedS3UriError, match="s3://artifacts/other/x is outside every local S3 mount"):
        s3.to_local("s3://artifacts/other/x")


def transform_request(batch_strategy: str = "MultiRecord") -> dict[str, Any]:
    return {
        "BatchStrategy": batch_strategy,
        "MaxPayloadInMB": 1,
        "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://gold/in/"}},
                           "ContentType": "application/jsonlines", "SplitType": "Line"},
        "TransformOutput": {"S3OutputPath": "s3://gold/out/", "Accept": "application/jsonlines",
                            "AssembleWith": "Line"},
    }


def transform_model(tmp_path: Path) -> dict[str, Any]:
    weights = tmp_path / "model_src"
    weights.mkdir(exist_ok=True)
    (weights / "weights.json").write_text(json.dumps({"w": 2}))
    archive = tmp_path / "ops/models/m/v1/model.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(weights / "weights.json", arcname="weights.json")
    return {"PrimaryContainer": {"Image": SKLEARN, "ModelDataUrl": "s3://artifacts/ops/models/m/v1/model.tar.gz",
                                 "Environment": {"SAGEMAKER_PROGRAM": "handlers.py",
                                                 "SAGEMAKER_SUBMIT_DIRECTORY": "s3://artifacts/code/sourcedir.tar.gz"}}}


@pytest.mark.parametrize(("strategy", "batch_sizes"), [("MultiRecord", {3}), ("SingleRecord", {1})])
def test_transform_calls_the_handlers_per_mini_batch_and_writes_one_output_per_file(
        tmp_path: Path, s3: LocalS3, strategy: str, batch_sizes: set[int]) -> None:
    (tmp_path / "gold/in/day=1").mkdir(parents=True)
    (tmp_path / "gold/in/day=1/part-0.jsonl").write_text("".join(json.dumps({"id": i, "x": i}) + "\n"
                                                                 for i in range(3)))
    (tmp_path / "gold/in/part-1.jsonl").write_text(json.dumps({"id": 9, "x": 0.5}) + "\n")
    run = LocalSageMaker(s3, tmp_path / "logs").transform("t-1", transform_request(strategy),
                                                         transform_model(tmp_path))

    assert run.status == "Completed", run.failure_reason
    assert sorted(run.outputs) == ["s3://gold/out/day=1/part-0.jsonl.out", "s3://gold/out/part-1.jsonl.out"]
    first = [json.loads(line) for line in (tmp_path / "gold/out/day=1/part-0.jsonl.out").read_text().splitlines()]
    assert [(r["id"], r["score"]) for r in first] == [(0, 0), (1, 2), (2, 4)]  # model_fn's weights, input order
    assert {r["batch_size"] for r in first} == batch_sizes
    assert json.loads((tmp_path / "gold/out/part-1.jsonl.out").read_text())["score"] == 1.0


def test_transform_fails_on_missing_model_data_or_handlers(tmp_path: Path, s3: LocalS3, source_dir: Path) -> None:
    (tmp_path / "gold/in").mkdir(parents=True)
    (tmp_path / "gold/in/p.jsonl").write_text('{"id": 1, "x": 1}\n')
    runner = LocalSageMaker(s3, tmp_path / "logs")
    missing = transform_model(tmp_path)
    missing["PrimaryContainer"]["ModelDataUrl"] = "s3://artifacts/ops/models/m/none/model.tar.gz"
    assert "does not exist" in (runner.transform("t-2", transform_request(), missing).failure_reason or "")

    (source_dir / "handlers.py").write_text("def model_fn(model_dir):\n    return 1\n")
    assert "does not define input_fn, predict_fn, output_fn" in (
        runner.transform("t-3", transform_request(), transform_model(tmp_path)).failure_reason or "")


def test_metric_definitions_take_the_last_captured_value() -> None:
    output = "epoch 1 loss=0.9\nepoch 2 loss=0.4\nauc: 0.81\n"
    definitions = [{"Name": "loss", "Regex": "loss=([0-9.]+)"}, {"Name": "auc", "Regex": "auc: ([0-9.]+)"},
                   {"Name": "absent", "Regex": "nothing=([0-9]+)"}]
    assert parse_metrics(output, definitions) == {"loss": 0.4, "auc": 0.81}


def test_error_names_follow_the_sagemaker_integration() -> None:
    assert sagemaker_error_name("ValidationException") == "SageMaker.AmazonSageMakerException"
    assert sagemaker_error_name("ThrottlingException") == "SageMaker.AmazonSageMakerException"
    assert sagemaker_error_name("ResourceLimitExceeded") == "SageMaker.ResourceLimitExceededException"


# -- through moto's interpreter ----------------------------------------------------------------------

SYNC_DEFINITION = {
    "StartAt": "Train",
    "States": {
        "Train": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
            "Parameters": {
                "TrainingJobName.$": "States.Format('probe-{}-r{}', $.name, $$.State.RetryCount)",
                "RoleArn": "${SageMakerExecutionRoleArn}",
                "AlgorithmSpecification": {"TrainingImage": SKLEARN, "TrainingInputMode": "File",
                                           "MetricDefinitions": [{"Name": "probe:score",
                                                                  "Regex": "probe:score=([0-9.]+)"}]},
                "HyperParameters.$": "$.hyperparameters",
                "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": "s3://gold/set/split=train/"}}}],
                "OutputDataConfig": {"S3OutputPath": "s3://artifacts/ops/models/m/v1"},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 600},
            },
            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 60, "MaxAttempts": 1,
                       "BackoffRate": 2.0}],
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "End": True},
    },
}


def no_glue(job_name: str, arguments: dict[str, str]) -> None:
    raise AssertionError("no Glue job expected")


@pytest.mark.integration
def test_a_sync_training_task_returns_the_job_description_and_a_failed_job_is_caught(
        tmp_path: Path, s3: LocalS3) -> None:
    write_training_data(tmp_path)
    hyperparameters = training_request()["HyperParameters"]
    with LocalStepFunctions(no_glue, tmp_path / "alerts", sagemaker=LocalSageMaker(s3, tmp_path / "logs")) as engine:
        ok = engine.run(SYNC_DEFINITION, {}, {"name": "ok", "hyperparameters": hyperparameters}, "ok", "probe")
        bad = engine.run(SYNC_DEFINITION, {}, {"name": "bad", "hyperparameters": {**hyperparameters, "fail": "crash"}},
                         "bad", "probe")

    ok.raise_for_status()
    assert ok.output["TrainingJobName"] == "probe-ok-r0" and ok.output["TrainingJobStatus"] == "Completed"
    assert [m["MetricName"] for m in ok.output["FinalMetricDataList"]] == ["probe:score"]
    assert ok.output["FinalMetricDataList"][0]["Value"] == 0.75
    assert ok.output["AlgorithmSpecification"]["MetricDefinitions"][0]["Name"] == "probe:score"
    assert ok.output["ModelArtifacts"]["S3ModelArtifacts"] == \
        "s3://artifacts/ops/models/m/v1/probe-ok-r0/output/model.tar.gz"

    assert bad.status == "SUCCEEDED" and bad.output["error"]["Error"] == "States.TaskFailed"
    cause = json.loads(bad.output["error"]["Cause"])
    assert cause["TrainingJobStatus"] == "Failed" and "boom in training" in cause["FailureReason"]
    assert [run.name for run in bad.sagemaker_runs] == ["probe-bad-r0", "probe-bad-r1"]  # retried, new name
    assert bad.retry_delays == [60.0]


@pytest.mark.integration
def test_sagemaker_api_calls_refuse_duplicate_names_and_update_endpoint_switches_the_config(tmp_path: Path) -> None:
    with LocalStepFunctions(no_glue, tmp_path / "alerts"):
        client = boto3.client("sagemaker", region_name="us-east-1")
        container = {"Image": SKLEARN, "ModelDataUrl": "s3://b/model.tar.gz"}
        for version in ("v1", "v2"):
            client.create_model(ModelName=f"m-{version}", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                                PrimaryContainer=container)
            client.create_endpoint_config(EndpointConfigName=f"c-{version}", ProductionVariants=[{
                "VariantName": "AllTraffic", "ModelName": f"m-{version}", "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large"}])
        client.create_endpoint(EndpointName="e", EndpointConfigName="c-v1")
        with pytest.raises(client.exceptions.ClientError, match="Cannot create already existing endpoint"):
            client.create_endpoint(EndpointName="e", EndpointConfigName="c-v2")
        with pytest.raises(client.exceptions.ClientError, match="Cannot create already existing model"):
            client.create_model(ModelName="m-v1", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                                PrimaryContainer=container)
        with pytest.raises(client.exceptions.ClientError, match="Could not find endpoint configuration"):
            client.update_endpoint(EndpointName="e", EndpointConfigName="c-v3")
        arn = client.update_endpoint(EndpointName="e", EndpointConfigName="c-v2")["EndpointArn"]
        described = client.describe_endpoint(EndpointName="e")
        with pytest.raises(client.exceptions.ClientError, match="Could not find model"):
            client.create_transform_job(
                TransformJobName="t", ModelName="m-none",
                TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}}},
                TransformOutput={"S3OutputPath": "s3://b/out/"},
                TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})

    assert arn.endswith(":endpoint/e")
    assert (described["EndpointConfigName"], described["EndpointStatus"]) == ("c-v2", "InService")


GET_OBJECT_DEFINITION = {
    "StartAt": "Read",
    "States": {
        "Read": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
                 "Parameters": {"Bucket.$": "$.bucket", "Key.$": "$.key"},
                 "ResultSelector": {"document.$": "States.StringToJson($.Body)"},
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Missing"}],
                 "End": True},
        "Missing": {"Type": "Pass", "End": True},
    },
}


@pytest.mark.integration
def test_get_object_reads_mounted_buckets_from_the_lake_and_leaves_other_buckets_to_moto(tmp_path: Path,
                                                                                         s3: LocalS3) -> None:
    (tmp_path / "ops/models/m/v1").mkdir(parents=True)
    (tmp_path / "ops/models/m/v1/metrics.json").write_text(json.dumps({"auc": 0.8}))
    with LocalStepFunctions(no_glue, tmp_path / "alerts", sagemaker=LocalSageMaker(s3, tmp_path / "logs")) as engine:
        local = engine.run(GET_OBJECT_DEFINITION, {}, {"bucket": "artifacts", "key": "ops/models/m/v1/metrics.json"},
                           "local", "read")
        missing = engine.run(GET_OBJECT_DEFINITION, {}, {"bucket": "artifacts", "key": "ops/none.json"}, "missing",
                             "read")
        remote = engine.run(GET_OBJECT_DEFINITION, {}, {"bucket": "elsewhere", "key": "k.json"}, "remote", "read")

    assert local.output == {"document": {"auc": 0.8}}
    assert "The specified key does not exist: ops/none.json" in missing.output["error"]["Cause"]
    assert "The specified bucket does not exist" in remote.output["error"]["Cause"]  # moto's own S3 answered
