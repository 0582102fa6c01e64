"""The emulator seam: every moto patch is registered, undone after use, and has a canary.

A canary runs the pinned moto *without* its patch and asserts the bug (or the missing feature) the patch
works around is still there. After a moto upgrade, a failing canary names a patch that may be dropped;
a patch without a canary fails `test_every_patch_has_a_canary`.
"""

from __future__ import annotations

import inspect
import json
import random
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from pipelines.local_engine import LocalStepFunctions
from pipelines.local_engine.cloudformation_patches import patched_cloudformation
from pipelines.local_engine.engine import MOTO_CONFIG
from pipelines.local_engine.moto_registry import MOTO_PATCHES, PATCH_GROUPS, by_name, left_patched
from pipelines.local_engine.moto_seam import (
    PINNED_MOTO_VERSION,
    MotoPatch,
    UnsupportedMotoVersion,
    applied,
    pinned_moto_version,
)
from pipelines.polling import wait_until
from pipelines.registry import REPO_ROOT

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/probe"
GLUE_SYNC = {"StartAt": "Run", "States": {"Run": {
    "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
    "Parameters": {"JobName": "probe"}, "End": True}}}


# -- the pin and the registry -----------------------------------------------------------------------

def test_the_moto_pin_is_pyprojects_and_is_what_is_installed() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    pins = [r for r in pyproject["project"]["dependencies"] if r.startswith("moto")]
    assert pins == [f"moto[server]=={PINNED_MOTO_VERSION}"]
    assert pinned_moto_version() == PINNED_MOTO_VERSION == moto.__version__
    # installed without its pyproject.toml (a wheel): the package metadata carries the same pin
    assert pinned_moto_version(REPO_ROOT / "no-such-pyproject.toml") == PINNED_MOTO_VERSION


def test_patches_are_named_once_and_say_what_they_fix() -> None:
    names = [patch.name for patch in MOTO_PATCHES]
    assert len(names) == len(set(names))
    assert all(len(patch.fixes) > 40 and patch.written_for == PINNED_MOTO_VERSION for patch in MOTO_PATCHES)
    assert {patch.name for patches in PATCH_GROUPS.values() for patch in patches} == set(names)


def test_a_patch_written_for_another_moto_is_refused() -> None:
    stale = MotoPatch(name="probe", target=time, attribute="sleep", fixes="-", written_for="5.0.0",
                      replacement=lambda original, _hooks: original)
    with pytest.raises(UnsupportedMotoVersion, match=r"not been re-checked: probe \(5\.0\.0\)"), applied([stale]):
        pass


@pytest.mark.integration
def test_nothing_stays_patched_after_the_engine_and_the_emulator_stop(tmp_path: Path) -> None:
    assert left_patched() == []
    engine_patches = {p.name for p in (*PATCH_GROUPS["interpreter"], *PATCH_GROUPS["sagemaker"])}
    with LocalStepFunctions(lambda _job, _args: None, alert_dir=tmp_path, deterministic_jitter=True):
        assert set(left_patched()) == engine_patches
    assert left_patched() == []
    with patched_cloudformation():
        assert set(left_patched()) == {p.name for p in PATCH_GROUPS["cloudformation"]}
    assert left_patched() == []


# -- canaries: the pinned moto, unpatched, still has each bug ---------------------------------------

def _execute(definition: dict, execution_input: dict | None = None) -> tuple[dict, float]:
    """Run a definition on moto's interpreter (inside mock_aws); (describe_execution, seconds taken)."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arn = sfn.create_state_machine(name=f"probe-{time.monotonic_ns()}", definition=json.dumps(definition),
                                   roleArn=ROLE)["stateMachineArn"]
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=arn, name="probe", input=json.dumps(execution_input or {}))

    def describe() -> dict:
        try:
            return sfn.describe_execution(executionArn=execution["executionArn"])
        except TypeError as exc:  # moto itself cannot serialise the execution
            return {"status": "UNDESCRIBABLE", "cause": str(exc)}

    described = wait_until(describe, lambda d: d["status"] != "RUNNING", what="the probe execution",
                           timeout_seconds=10, interval_seconds=0.01, describe=lambda d: d["status"])
    return described, time.monotonic() - started


def _glue_job() -> None:
    boto3.client("glue", region_name=REGION).create_job(
        Name="probe", Role=ROLE, Command={"Name": "glueetl", "ScriptLocation": "s3://b/p.py"})


def _fail_state_in(kind: str) -> dict:
    failing = {"StartAt": "Fail", "States": {"Fail": {"Type": "Fail", "Error": "States.TaskFailed",
                                                      "Cause": "the job failed"}}}
    if kind == "Map":
        outer = {"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": failing, "End": True}
    else:
        outer = {"Type": "Parallel", "Branches": [failing], "End": True}
    return {"StartAt": kind, "States": {kind: outer}}


def canary_glue_job_run_runs_nothing() -> None:
    _glue_job()
    glue = boto3.client("glue", region_name=REGION)
    run_id = glue.start_job_run(JobName="probe")["JobRunId"]
    assert glue.get_job_run(JobName="probe", RunId=run_id)["JobRun"]["JobRunState"] == "SUCCEEDED"


def canary_glue_job_run_has_no_error_message() -> None:
    _glue_job()
    glue = boto3.client("glue", region_name=REGION)
    run_id = glue.start_job_run(JobName="probe")["JobRunId"]
    job_run = glue.get_job_run(JobName="probe", RunId=run_id)["JobRun"]
    assert "ErrorMessage" not in job_run
    assert job_run["ExecutionTime"] == 123  # a constant, not the run's duration


def canary_glue_sync_fails_on_the_task_token_endpoint() -> None:
    _glue_job()
    described, _ = _execute(GLUE_SYNC)
    assert described["status"] == "FAILED"
    assert "'NoneType' object has no attribute 'interrupt_all'" in described["cause"]


def canary_glue_sync_output_is_not_json() -> None:
    _glue_job()
    with applied([by_name("glue-sync-without-task-token")]):  # past the first bug, to reach this one
        described, _ = _execute(GLUE_SYNC)
    assert described["status"] == "UNDESCRIBABLE"
    assert "not JSON serializable" in described["cause"]


def canary_execution_start_time_is_a_datetime() -> None:
    _glue_job()
    described, _ = _execute({"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun",
        "Parameters": {"JobName": "probe", "Arguments": {"--started.$": "$$.Execution.StartTime"}}, "End": True}}})
    assert described["status"] == "FAILED"
    assert "not JSON serializable" in described["cause"]


def canary_map_loses_a_states_error() -> None:
    described, _ = _execute(_fail_state_in("Map"), {"items": [1]})
    assert described["status"] == "FAILED"
    assert "Custom Error Names MUST NOT begin with the prefix 'States.'" in described["cause"]


def canary_parallel_loses_a_states_error() -> None:
    described, _ = _execute(_fail_state_in("Parallel"))
    assert described["status"] == "FAILED"
    assert "Custom Error Names MUST NOT begin with the prefix 'States.'" in described["cause"]


def canary_retry_sleeps() -> None:
    described, seconds = _execute({"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun", "Parameters": {"JobName": "absent"},
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 1}], "End": True}}})
    assert described["status"] == "FAILED"
    assert seconds >= 0.9


def canary_wait_sleeps() -> None:
    described, seconds = _execute({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 1,
                                                                           "End": True}}})
    assert described["status"] == "SUCCEEDED"
    assert seconds >= 0.9


def canary_full_jitter_is_random() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl

    assert jitter_strategy_decl.random is random
    assert "random.uniform(" in inspect.getsource(jitter_strategy_decl)


def canary_sagemaker_sync_fails_before_its_catch() -> None:
    described, _ = _execute({"StartAt": "Train", "States": {
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                  "Parameters": {"TrainingJobName": "x"}, "End": True,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}}})
    assert described["status"] == "FAILED"  # the Catch to "Caught" never ran


def _sagemaker() -> object:
    return boto3.client("sagemaker", region_name=REGION)


def _training_job(name: str) -> dict:
    return {"TrainingJobName": name, "RoleArn": ROLE,
            "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": "validation:auc", "Regex": "auc=([0-9.]+)"}]},
            "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60}}


def canary_training_job_runs_nothing() -> None:
    client = _sagemaker()
    client.create_training_job(**_training_job("t"))
    client.create_training_job(**_training_job("t"))  # a duplicate name is accepted
    described = client.describe_training_job(TrainingJobName="t")
    assert described["TrainingJobStatus"] == "Completed"  # at once, without running anything
    assert described["AlgorithmSpecification"].get("MetricDefinitions") != [
        {"Name": "validation:auc", "Regex": "auc=([0-9.]+)"}]


def canary_transform_job_accepts_an_unknown_model() -> None:
    client = _sagemaker()
    client.create_transform_job(
        TransformJobName="x", ModelName="no-such-model",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}},
        TransformOutput={"S3OutputPath": "s3://b/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1})
    assert _sagemaker().describe_transform_job(TransformJobName="x")["TransformJobStatus"] == "Completed"


def _create_twice(create: Callable[[], object]) -> None:
    create()
    create()  # AWS: ValidationException "Cannot create already existing ..."


def canary_model_name_is_not_unique() -> None:
    _create_twice(lambda: _sagemaker().create_model(
        ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"}))


def _create_endpoint_config(client: object) -> None:
    client.create_endpoint_config(EndpointConfigName="c", ProductionVariants=[
        {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])


def canary_endpoint_config_name_is_not_unique() -> None:
    client = _sagemaker()
    client.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    _create_twice(lambda: _create_endpoint_config(client))


def canary_endpoint_name_is_not_unique() -> None:
    client = _sagemaker()
    client.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    _create_endpoint_config(client)
    _create_twice(lambda: client.create_endpoint(EndpointName="e", EndpointConfigName="c"))


def canary_backend_has_no_update_endpoint() -> None:
    from moto.sagemaker.models import SageMakerModelBackend

    assert not hasattr(SageMakerModelBackend, "update_endpoint")


def canary_api_has_no_update_endpoint() -> None:
    from moto.sagemaker.responses import SageMakerResponse

    assert not hasattr(SageMakerResponse, "update_endpoint")


def canary_get_object_cannot_see_the_lake() -> None:
    described, _ = _execute({"StartAt": "Read", "States": {"Read": {
        "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
        "Parameters": {"Bucket": "lakehouse-local-artifacts", "Key": "ops/evaluation.json"}, "End": True}}})
    assert described["status"] == "FAILED"
    assert "NoSuchBucket" in described["error"]


def _create_stack(template: dict, via_change_set: bool = False) -> dict:
    cfn = boto3.client("cloudformation", region_name=REGION)
    if via_change_set:
        cfn.create_change_set(StackName="probe", ChangeSetName="c", ChangeSetType="CREATE",
                              TemplateBody=json.dumps(template))
        cfn.execute_change_set(StackName="probe", ChangeSetName="c")
    else:
        cfn.create_stack(StackName="probe", TemplateBody=json.dumps(template))
    return cfn.describe_stacks(StackName="probe")["Stacks"][0]


def canary_kms_key_tags_crash() -> None:
    template = {"Resources": {"Key": {"Type": "AWS::KMS::Key", "Properties": {
        "KeyPolicy": {"Version": "2012-10-17", "Statement": []}, "Tags": [{"Key": "team", "Value": "data"}]}}}}
    with pytest.raises(Exception, match="TagKey"):
        _create_stack(template)


def canary_change_set_drops_outputs() -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}}}
    assert "Outputs" not in _create_stack(template, via_change_set=True)


def canary_role_inline_policy_is_a_dict() -> None:
    from moto.iam.models import iam_backends

    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    _create_stack({"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "RoleName": "probe", "AssumeRolePolicyDocument": policy,
        "Policies": [{"PolicyName": "read", "PolicyDocument": policy}]}}}})
    role = iam_backends["123456789012"]["global"].get_role("probe")
    assert isinstance(role.policies["read"], dict)


def canary_bucket_ignores_versioning_and_replication() -> None:
    s3 = boto3.client("s3", region_name=REGION)
    template = {"Resources": {
        "Replica": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": "probe-replica", "VersioningConfiguration": {"Status": "Enabled"}}},
        "Source": {"Type": "AWS::S3::Bucket", "Properties": {
            "BucketName": "probe-source", "VersioningConfiguration": {"Status": "Enabled"},
            "ReplicationConfiguration": {"Role": "arn:aws:iam::123456789012:role/replication", "Rules": [
                {"Id": "all", "Status": "Enabled", "Prefix": "",
                 "Destination": {"Bucket": "arn:aws:s3:::probe-replica"}}]}}}}}
    _create_stack(template)
    assert "Status" not in s3.get_bucket_versioning(Bucket="probe-source")
    with pytest.raises(Exception, match="ReplicationConfigurationNotFound"):
        s3.get_bucket_replication(Bucket="probe-source")


def canary_dynamodb_is_authorised_against_star() -> None:
    from moto.dynamodb.responses import DynamoHandler

    # without the hook moto's BaseResponse authorises every DynamoDB request against "*"
    assert not hasattr(DynamoHandler, "_determine_resource")


def canary_dynamodb_table_loses_sse_pitr_and_ttl() -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    _create_stack({"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
        "TableName": "probe", "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True}}}}})
    backups = dynamodb.describe_continuous_backups(TableName="probe")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    assert dynamodb.describe_time_to_live(TableName="probe")["TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"


CANARIES: dict[str, Callable[[], None]] = {
    "glue-job-run-runs-the-job": canary_glue_job_run_runs_nothing,
    "glue-job-run-error-message": canary_glue_job_run_has_no_error_message,
    "glue-sync-without-task-token": canary_glue_sync_fails_on_the_task_token_endpoint,
    "glue-sync-output-json-safe": canary_glue_sync_output_is_not_json,
    "execution-start-time-iso": canary_execution_start_time_is_a_datetime,
    "map-keeps-states-error-name": canary_map_loses_a_states_error,
    "parallel-keeps-states-error-name": canary_parallel_loses_a_states_error,
    "retry-does-not-sleep": canary_retry_sleeps,
    "wait-does-not-sleep": canary_wait_sleeps,
    "jitter-takes-upper-bound": canary_full_jitter_is_random,
    "sagemaker-step-functions-integration": canary_sagemaker_sync_fails_before_its_catch,
    "sagemaker-training-job-runs": canary_training_job_runs_nothing,
    "sagemaker-transform-job-runs": canary_transform_job_accepts_an_unknown_model,
    "sagemaker-model-name-unique": canary_model_name_is_not_unique,
    "sagemaker-endpoint-config-name-unique": canary_endpoint_config_name_is_not_unique,
    "sagemaker-endpoint-name-unique": canary_endpoint_name_is_not_unique,
    "sagemaker-update-endpoint-backend": canary_backend_has_no_update_endpoint,
    "sagemaker-update-endpoint-api": canary_api_has_no_update_endpoint,
    "aws-sdk-get-object-reads-the-lake": canary_get_object_cannot_see_the_lake,
    "cfn-kms-key-tags-and-policy": canary_kms_key_tags_crash,
    "cfn-change-set-outputs": canary_change_set_drops_outputs,
    "iam-role-inline-policy-as-text": canary_role_inline_policy_is_a_dict,
    "cfn-bucket-versioning-and-replication": canary_bucket_ignores_versioning_and_replication,
    "dynamodb-authorise-against-the-table": canary_dynamodb_is_authorised_against_star,
    "cfn-dynamodb-table-sse-pitr-ttl": canary_dynamodb_table_loses_sse_pitr_and_ttl,
}


def test_every_patch_has_a_canary() -> None:
    assert sorted(CANARIES) == sorted(patch.name for patch in MOTO_PATCHES)


@pytest.mark.integration
@pytest.mark.parametrize("patch_name", sorted(CANARIES))
def test_unpatched_moto_still_has_the_bug(patch_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """If this fails after a moto upgrade, moto may have fixed the bug: re-check the patch, maybe drop it."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    assert left_patched() == []
    with mock_aws(config=MOTO_CONFIG):
        try:
            CANARIES[patch_name]()
        except ClientError as exc:  # a canary expecting success got an AWS error: moto changed
            raise AssertionError(f"{patch_name}: moto now answers {exc}") from exc
