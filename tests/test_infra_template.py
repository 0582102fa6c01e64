"""The generated templates, checked offline: structure, registry derivation, linters, scanners.

What moto's CloudFormation silently skips (Glue database and jobs, bucket policies, alarms, public
access blocks, lifecycle rules, versioning, definition substitutions) is asserted here, on the
template; tests/test_infra_deploy.py checks what moto really creates.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from infra import iam, scan
from infra.iam import UnsupportedIntegrationError
from infra.orchestration import UnresolvedPlaceholderError
from infra.packaging import ArtifactSet, collect_artifacts
from infra.settings import STAGES, DeploySettings
from infra.storage import BootstrapOutputs, DrOutputs
from infra.suppressions import SUPPRESSIONS
from infra.template import bootstrap_template, dependency_order, dr_template, main_template, to_json
from jobs.contracts import list_datasets
from pipelines.registry import GLUE_JOBS, PIPELINES, REPO_ROOT, GlueJobSpec, PipelineSpec

ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
COST_TAG_KEYS = {"Team", "Project", "Environment", "CostCenter"}


def settings_for(stage: str = "dev") -> DeploySettings:
    return DeploySettings(stage=stage, account=ACCOUNT)


def bootstrap_for(settings: DeploySettings) -> BootstrapOutputs:
    return BootstrapOutputs(KEY_ARN, settings.bucket_name("artifacts"), settings.bucket_name("logs"))


DR_KEY_ARN = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/9876abcd-12ab-34cd-56ef-1234567890ab"


def dr_for(settings: DeploySettings) -> DrOutputs:
    return DrOutputs("us-west-2", DR_KEY_ARN, settings.dr_gold_bucket)


@pytest.fixture(scope="module")
def artifacts() -> ArtifactSet:
    return collect_artifacts()


@pytest.fixture(scope="module")
def templates(artifacts: ArtifactSet) -> dict[str, dict[str, Any]]:
    """Both templates per stage, as deployed (serialised and parsed back)."""
    built = {}
    for stage in STAGES:
        settings = settings_for(stage)
        built[f"bootstrap-{stage}"] = json.loads(to_json(bootstrap_template(settings)))
        built[f"dr-{stage}"] = json.loads(to_json(dr_template(settings)))
        built[f"main-{stage}"] = json.loads(to_json(main_template(settings, bootstrap_for(settings), artifacts,
                                                                  dr_outputs=dr_for(settings))))
    return built


def resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {logical_id: body for logical_id, body in template["Resources"].items()
            if body["Type"] == resource_type}


def statements_of(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for policy in role["Properties"]["Policies"] for item in policy["PolicyDocument"]["Statement"]]


# -- validators ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bootstrap-prod", "main-prod", "dr-prod"])  # main-dev: in the new-pipeline test
def test_cfn_lint_reports_nothing(templates: dict[str, dict[str, Any]], name: str) -> None:
    assert scan.cfn_lint(templates[name], "us-west-2" if name.startswith("dr-") else "us-east-1") == []


def test_cfn_lint_catches_a_broken_template(templates: dict[str, dict[str, Any]]) -> None:
    broken = json.loads(json.dumps(templates["bootstrap-dev"]))
    broken["Resources"]["LakeKey"]["Properties"]["EnableKeyRotation"] = "sometimes"
    assert any(line.startswith("E") for line in scan.cfn_lint(broken))


@pytest.mark.parametrize("name", ["bootstrap-dev", "main-dev", "main-prod", "dr-prod"])
def test_cfripper_findings_are_all_fixed_or_justified(templates: dict[str, dict[str, Any]], name: str) -> None:
    assert [str(finding) for finding in scan.cfripper(templates[name], ACCOUNT)] == []


def test_every_cfripper_suppression_matches_a_real_finding(
        templates: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> None:
    """No stale justifications: without the allow-filters each suppressed finding does appear."""
    monkeypatch.setattr(scan, "suppressions_for", lambda scanner: [])
    raw = {(f.rule, logical_id) for name in ("bootstrap-dev", "main-dev", "dr-dev")
           for f in scan.cfripper(templates[name], ACCOUNT) for logical_id in f.logical_ids}
    for item in SUPPRESSIONS:
        if item.scanner == "cfripper":
            for logical_id in item.logical_ids:
                assert (item.rule, logical_id) in raw, f"stale cfripper suppression {item.rule} {logical_id}"


def test_checkov_skips_live_in_resource_metadata(templates: dict[str, dict[str, Any]]) -> None:
    resources = {**templates["bootstrap-dev"]["Resources"], **templates["main-dev"]["Resources"],
                 **templates["dr-dev"]["Resources"]}
    for item in SUPPRESSIONS:
        for logical_id in item.logical_ids:
            metadata = resources[logical_id]["Metadata"]
            if item.scanner == "checkov":
                assert {"id": item.rule, "comment": item.reason} in metadata["checkov"]["skip"]
            else:
                assert {"rule": item.rule, "reason": item.reason} in metadata["cfripper"]["accepted"]


@pytest.mark.skipif(not os.environ.get("LAKEHOUSE_CHECKOV"),
                    reason="set LAKEHOUSE_CHECKOV to a checkov 3.3.x executable (it cannot share the "
                           "project venv: it pins boto3 1.35); see docs/deploy.md")
@pytest.mark.slow
def test_checkov_findings_are_all_fixed_or_justified(templates: dict[str, dict[str, Any]],
                                                     tmp_path: Path) -> None:
    for name in ("bootstrap-dev", "main-dev", "dr-dev"):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(templates[name]))
        assert [str(f) for f in scan.checkov(path, os.environ["LAKEHOUSE_CHECKOV"])] == []


def test_docs_table_lists_every_suppression() -> None:
    docs = (REPO_ROOT / "docs" / "deploy.md").read_text()
    assert "LAKEHOUSE_CHECKOV" in docs
    rows = [line for line in docs.splitlines() if line.startswith("|")]
    for item in SUPPRESSIONS:
        for logical_id in item.logical_ids:
            assert any(item.rule in row and logical_id in row and item.scanner in row for row in rows), \
                f"docs/deploy.md has no table row for {item.scanner} {item.rule} on {logical_id}"


# -- storage (moto skips policies, public access blocks, lifecycle and versioning) ------------------
def _all_buckets(templates: dict[str, dict[str, Any]], stage: str) -> dict[str, dict[str, Any]]:
    return {**resources_of(templates[f"bootstrap-{stage}"], "AWS::S3::Bucket"),
            **resources_of(templates[f"main-{stage}"], "AWS::S3::Bucket")}


def test_every_bucket_is_private_encrypted_tls_only_and_logged(templates: dict[str, dict[str, Any]]) -> None:
    buckets = _all_buckets(templates, "prod")
    assert set(buckets) == {"LogsBucket", "ArtifactsBucket", "BronzeBucket", "SilverBucket", "GoldBucket"}
    policies = {body["Properties"]["Bucket"]["Ref"]: body for template in ("bootstrap-prod", "main-prod")
                for body in resources_of(templates[template], "AWS::S3::BucketPolicy").values()}
    for logical_id, body in buckets.items():
        props = body["Properties"]
        assert all(props["PublicAccessBlockConfiguration"].values()) and \
            len(props["PublicAccessBlockConfiguration"]) == 4, logical_id
        assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        tls = [s for s in policies[logical_id]["Properties"]["PolicyDocument"]["Statement"]
               if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
        assert tls and tls[0]["Action"] == ["s3:*"] and tls[0]["Principal"] == "*", logical_id
        encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        if logical_id == "LogsBucket":  # S3 access logs cannot be delivered to an SSE-KMS bucket
            assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
        else:
            assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
            assert props["LoggingConfiguration"]["DestinationBucketName"] in (
                {"Ref": "LogsBucket"}, settings_for("prod").bucket_name("logs"))


def test_lifecycle_and_versioning_per_layer(templates: dict[str, dict[str, Any]]) -> None:
    buckets = _all_buckets(templates, "dev")

    def expiry(logical_id: str) -> dict[str, int]:
        rules = buckets[logical_id]["Properties"]["LifecycleConfiguration"]["Rules"]
        return {rule.get("Prefix", ""): rule["ExpirationInDays"] for rule in rules if "ExpirationInDays" in rule}

    # Bronze files expire per dataset prefix; the quarantine prefix beside them and the silver and gold
    # buckets are Iceberg tables: S3 expiry of a file a snapshot references would corrupt them.
    assert expiry("BronzeBucket") == {f"{name}/": 90 for name in list_datasets()}
    assert not any(prefix.startswith("quarantine") for prefix in expiry("BronzeBucket"))
    assert (expiry("SilverBucket"), expiry("GoldBucket")) == ({}, {})
    versioned = {logical_id for logical_id, body in buckets.items()
                 if body["Properties"].get("VersioningConfiguration") == {"Status": "Enabled"}}
    assert versioned == {"GoldBucket", "BronzeBucket", "ArtifactsBucket"}
    for logical_id in versioned:
        rules = buckets[logical_id]["Properties"]["LifecycleConfiguration"]["Rules"]
        assert any("NoncurrentVersionExpiration" in rule for rule in rules), logical_id


def test_kms_key_rotates_and_is_retained_outside_dev(templates: dict[str, dict[str, Any]]) -> None:
    for stage, policy in (("dev", "Delete"), ("prod", "Retain")):
        key = templates[f"bootstrap-{stage}"]["Resources"]["LakeKey"]
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == policy == key["UpdateReplacePolicy"]


# -- Glue (moto skips the database and the jobs) -----------------------------------------------------
def test_one_glue_job_per_registered_job(templates: dict[str, dict[str, Any]], artifacts: ArtifactSet) -> None:
    settings = settings_for("dev")
    jobs = {body["Properties"]["Name"]: body["Properties"]
            for body in resources_of(templates["main-dev"], "AWS::Glue::Job").values()}
    assert set(jobs) == {settings.glue_job_name(name) for name in GLUE_JOBS}
    artifacts_root = f"s3://{settings.bucket_name('artifacts')}/"
    for name, spec in GLUE_JOBS.items():
        job = jobs[settings.glue_job_name(name)]
        assert job["Timeout"] == spec.timeout_minutes and job["MaxRetries"] == spec.max_retries
        assert job["Command"]["ScriptLocation"] == artifacts_root + artifacts.scripts[name].key
        assert job["Role"] == {"Fn::GetAtt": ["GlueJobRole", "Arn"]}
        assert job["SecurityConfiguration"] == {"Ref": "GlueSecurityConfiguration"}
        args = job["DefaultArguments"]
        assert args["--additional-python-modules"].split(",")[0] == artifacts_root + artifacts.wheel.key
        assert args["--bronze_root"] == f"s3://{settings.bucket_name('bronze')}/"
        assert args["--quarantine_root"] == f"s3://{settings.bucket_name('bronze')}/quarantine/"
        assert args["--ops_root"] == f"s3://{settings.bucket_name('artifacts')}/ops/"
        assert args["--glue_database"] == settings.glue_database
        if spec.job_type == "glueetl":
            assert job["GlueVersion"] == "5.0"
            # Glue's own Iceberg, its SQL extensions, and the Glue Data Catalog for the tables
            assert (args["--datalake-formats"], args["--catalog"]) == ("iceberg", "glue")
            assert args["--conf"] == "spark.sql.extensions=" \
                "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
            assert (job["WorkerType"], job["NumberOfWorkers"]) == (spec.worker_type, spec.number_of_workers)
            assert args["--enable-continuous-cloudwatch-log"] == "true" and args["--enable-metrics"] == "true"
    database = resources_of(templates["main-dev"], "AWS::Glue::Database")
    assert [body["Properties"]["DatabaseInput"]["Name"] for body in database.values()] == ["lakehouse_dev"]


def test_launcher_scripts_import_the_job_module(artifacts: ArtifactSet) -> None:
    for name, spec in GLUE_JOBS.items():
        assert artifacts.scripts[name].body.decode().splitlines()[1:] == [
            f"from {spec.module} import main", "", "main()"]


# -- orchestration (moto skips substitutions and alarms) ----------------------------------------------
def test_state_machine_substitutions_cover_every_placeholder(templates: dict[str, dict[str, Any]]) -> None:
    machine = templates["main-dev"]["Resources"]["StateMachineIngestion"]["Properties"]
    definition_text = PIPELINES["ingestion"].definition_path.read_text()
    assert machine["DefinitionString"] == definition_text
    assert machine["DefinitionSubstitutions"] == {
        "AlertTopicArn": {"Ref": "AlertTopic"},
        "BronzeToSilverJobName": "lakehouse-dev-bronze_to_silver",
        "FinalizeRunJobName": "lakehouse-dev-finalize_run",
        "MaterializeFeaturesJobName": "lakehouse-dev-materialize_features",
        "SilverToGoldJobName": "lakehouse-dev-silver_to_gold",
    }
    assert machine["LoggingConfiguration"]["Level"] == "ALL"
    assert machine["TracingConfiguration"] == {"Enabled": True}


def test_alarms_watch_executions_and_glue_runs(templates: dict[str, dict[str, Any]]) -> None:
    alarms = resources_of(templates["main-dev"], "AWS::CloudWatch::Alarm")
    metrics = {(m["MetricStat"]["Metric"]["Namespace"], m["MetricStat"]["Metric"]["MetricName"])
               for alarm in alarms.values() for m in alarm["Properties"]["Metrics"] if "MetricStat" in m}
    assert {("AWS/States", "ExecutionsFailed"), ("AWS/Events", "TriggeredRules")} <= metrics
    assert all(alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}] for alarm in alarms.values())
    rule = templates["main-dev"]["Resources"]["GlueJobFailureRule"]["Properties"]
    assert sorted(rule["EventPattern"]["detail"]["jobName"]) == sorted(
        f"lakehouse-dev-{name}" for name in GLUE_JOBS)


def test_schedules_follow_the_registry_and_the_stage(templates: dict[str, dict[str, Any]]) -> None:
    for stage, state in (("dev", "DISABLED"), ("prod", "ENABLED")):
        rule = templates[f"main-{stage}"]["Resources"]["StateMachineIngestionSchedule"]["Properties"]
        assert rule["ScheduleExpression"] == PIPELINES["ingestion"].schedule
        assert rule["State"] == state
        target = rule["Targets"][0]
        assert target["Arn"] == {"Ref": "StateMachineIngestion"}
        assert target["RoleArn"] == {"Fn::GetAtt": ["EventBridgeRole", "Arn"]}


# -- IAM -----------------------------------------------------------------------------------------------
def test_state_machine_role_is_derived_from_the_definition(templates: dict[str, dict[str, Any]]) -> None:
    statements = statements_of(templates["main-dev"]["Resources"]["StateMachineRole"])
    glue = [s for s in statements if "glue:StartJobRun" in s["Action"]]
    assert len(glue) == 1 and sorted(glue[0]["Action"]) == [
        "glue:BatchStopJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:StartJobRun"]
    assert sorted(item["Fn::Sub"] for item in glue[0]["Resource"]) == sorted(
        f"arn:${{AWS::Partition}}:glue:${{AWS::Region}}:${{AWS::AccountId}}:job/lakehouse-dev-{name}"
        for name in sorted({job for spec in PIPELINES.values() for job in spec.glue_jobs}))
    assert [s["Resource"] for s in statements if s["Action"] == ["sns:Publish"]] == [{"Ref": "AlertTopic"}]
    # ReadEvaluation (aws-sdk:s3:getObject) may read the model registry and nothing else.
    reads = [s for s in statements if s["Action"] == ["s3:GetObject"]]
    assert reads == [{"Effect": "Allow", "Action": ["s3:GetObject"],
                      "Resource": [{"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::lakehouse-dev-artifacts-{ACCOUNT}"
                                               "/ops/models/*"}]}], reads


def test_model_pipelines_get_their_sagemaker_names_image_and_source(templates: dict[str, dict[str, Any]],
                                                                   artifacts: ArtifactSet) -> None:
    resources = templates["main-dev"]["Resources"]
    training = resources["StateMachineTraining"]["Properties"]["DefinitionSubstitutions"]
    assert training["NamePrefix"] == "lakehouse-dev-"
    assert training["SklearnImageUri"] == (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")
    assert artifacts.ml_source is not None
    assert training["SageMakerSourceUri"] == f"s3://lakehouse-dev-artifacts-{ACCOUNT}/{artifacts.ml_source.key}"
    inference = resources["StateMachineBatchInference"]["Properties"]["DefinitionSubstitutions"]
    assert inference["SageMakerSourceUri"] == training["SageMakerSourceUri"]
    # batch inference starts when an ingestion execution SUCCEEDS, not on a clock
    rule = resources["StateMachineBatchInferenceSchedule"]["Properties"]
    assert "ScheduleExpression" not in rule
    assert rule["EventPattern"]["detail"] == {"status": ["SUCCEEDED"],
                                              "stateMachineArn": [{"Ref": "StateMachineIngestion"}]}
    assert rule["Targets"][0]["InputTransformer"]["InputPathsMap"] == {"name": "$.detail.name",
                                                                         "output": "$.detail.output"}
    assert resources["StateMachineTrainingSchedule"]["Properties"]["ScheduleExpression"] == "cron(0 5 ? * SUN *)"


def test_table_maintenance_is_scheduled_nightly_through_its_own_state_machine(
        templates: dict[str, dict[str, Any]]) -> None:
    resources = templates["main-dev"]["Resources"]
    rule = resources["StateMachineMaintenanceSchedule"]["Properties"]
    assert rule["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert rule["Targets"][0]["Arn"] == {"Ref": "StateMachineMaintenance"}
    substitutions = resources["StateMachineMaintenance"]["Properties"]["DefinitionSubstitutions"]
    assert substitutions["MaintainTablesJobName"] == "lakehouse-dev-maintain_tables"
    job = next(body["Properties"] for body in resources.values() if body["Type"] == "AWS::Glue::Job"
               and body["Properties"]["Name"] == "lakehouse-dev-maintain_tables")
    assert job["DefaultArguments"]["--datalake-formats"] == "iceberg"
    assert job["DefaultArguments"]["--catalog"] == "glue"


def test_a_region_without_a_known_sklearn_image_stops_the_build() -> None:
    settings = dataclasses.replace(settings_for("dev"), region="mars-north-1")
    with pytest.raises(ValueError, match=r"mars-north-1.*SKLEARN_IMAGE_ACCOUNTS"):
        settings.sklearn_image_uri()


def test_rbac_roles_require_mfa_and_deny_raw_layers(templates: dict[str, dict[str, Any]]) -> None:
    resources = templates["main-dev"]["Resources"]
    for logical_id, denied_layers in (("DataScientistRole", ["bronze"]), ("AppDeveloperRole", ["bronze", "silver"])):
        role = resources[logical_id]["Properties"]
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"] == {
            "Bool": {"aws:MultiFactorAuthPresent": "true"}}
        denies = [s for s in statements_of(resources[logical_id]) if s["Effect"] == "Deny"]
        denied = json.dumps([s["Resource"] for s in denies if s["Action"] == ["s3:*"]])
        for layer in denied_layers:
            assert f"lakehouse-dev-{layer}-{ACCOUNT}" in denied
    data_scientist = statements_of(resources["DataScientistRole"])
    assert any(s["Effect"] == "Deny" and "iam:Create*" in s["Action"] for s in data_scientist)
    assert any(s["Effect"] == "Deny" and "ec2:Create*" in s["Action"] for s in data_scientist)
    assert resources["DataScientistRole"]["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AmazonSageMakerFullAccess"}]


def test_cost_tags_on_every_taggable_resource(templates: dict[str, dict[str, Any]]) -> None:
    """cfn-lint's resource schemas are the oracle for which types take Tags."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    for name in ("bootstrap-prod", "main-prod", "dr-prod"):
        for logical_id, body in templates[name]["Resources"].items():
            schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", body["Type"]).schema
            if "Tags" not in schema.get("properties", {}):
                continue
            tags = body["Properties"].get("Tags")
            keys = set(tags) if isinstance(tags, dict) else {tag["Key"] for tag in tags or []}
            assert keys == COST_TAG_KEYS, f"{logical_id} ({body['Type']}) tags: {keys}"
            values = tags if isinstance(tags, dict) else {tag["Key"]: tag["Value"] for tag in tags}
            assert values["Environment"] == "prod"


# -- derivation from the registry ------------------------------------------------------------------------
TRAINING_DEFINITION = {
    "StartAt": "BuildTrainingSet",
    "States": {
        "BuildTrainingSet": {"Type": "Task", "Resource": "arn:aws:states:::glue:startJobRun.sync",
                             "Parameters": {"JobName": "${TrainingSetJobName}"}, "Next": "Train"},
        "Train": {"Type": "Task", "Resource": "arn:aws:states:::sagemaker:createTrainingJob.sync",
                  "Parameters": {"RoleArn": "${SageMakerExecutionRoleArn}", "TrainingJobName.$": "$.name"},
                  "End": True},
    },
}


def _training_registry(tmp_path: Path, definition: dict[str, Any]) -> tuple[dict, dict]:
    path = tmp_path / "training.asl.json"
    path.write_text(json.dumps(definition))
    jobs = {**GLUE_JOBS, "training_set": GlueJobSpec(name="training_set", module="jobs.infra_test_training_set",
                                                        description="Build the training set.",
                                                        worker_type="G.2X", number_of_workers=6)}

    @dataclasses.dataclass(frozen=True)
    class TempPipeline(PipelineSpec):
        @property
        def definition_path(self) -> Path:
            return path

    pipelines = {**PIPELINES, "training": TempPipeline(
        name="training", definition_file="training.asl.json", description="Train the model.",
        schedule="cron(0 4 ? * SUN *)", glue_jobs=("training_set",),
        placeholders={"TrainingSetJobName": "training_set"})}
    return jobs, pipelines


def test_a_new_pipeline_and_job_need_no_infra_code(tmp_path: Path) -> None:
    jobs, pipelines = _training_registry(tmp_path, TRAINING_DEFINITION)
    settings = settings_for("dev")
    artifacts = collect_artifacts(REPO_ROOT, jobs, pipelines)
    template = json.loads(to_json(main_template(settings, bootstrap_for(settings), artifacts, jobs, pipelines)))
    resources = template["Resources"]
    assert resources["GlueJobTrainingSet"]["Properties"]["WorkerType"] == "G.2X"
    assert resources["StateMachineTraining"]["Properties"]["DefinitionSubstitutions"] == {
        "SageMakerExecutionRoleArn": {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]},
        "TrainingSetJobName": "lakehouse-dev-training_set"}
    assert resources["StateMachineTrainingSchedule"]["Properties"]["ScheduleExpression"] == "cron(0 4 ? * SUN *)"
    assert "StateMachineTrainingFailedAlarm" in resources
    actions = {a for s in statements_of(resources["StateMachineRole"]) for a in s["Action"]}
    assert {"sagemaker:CreateTrainingJob", "iam:PassRole", "events:PutRule"} <= actions
    eventbridge = statements_of(resources["EventBridgeRole"])[0]["Resource"]
    assert {"Ref": "StateMachineTraining"} in eventbridge and {"Ref": "StateMachineIngestion"} in eventbridge
    assert any("jobs/infra_test_training_set.py does not exist" in warning for warning in artifacts.warnings)
    assert scan.cfn_lint(template) == []


def test_an_unknown_placeholder_stops_the_build(tmp_path: Path) -> None:
    definition = json.loads(json.dumps(TRAINING_DEFINITION))
    definition["States"]["Train"]["Parameters"]["HyperParameters"] = {"bucket": "${ModelBucket}"}
    jobs, pipelines = _training_registry(tmp_path, definition)
    settings = settings_for("dev")
    with pytest.raises(UnresolvedPlaceholderError, match=r"\$\{ModelBucket\}"):
        main_template(settings, bootstrap_for(settings), collect_artifacts(REPO_ROOT, jobs, pipelines),
                      jobs, pipelines)


def test_an_integration_without_a_policy_stops_the_build() -> None:
    with pytest.raises(UnsupportedIntegrationError, match="lambda:invoke"):
        iam.integration_statements(settings_for("dev"), "lambda:invoke", False, (), {"Ref": "AlertTopic"})


# -- serialisation and settings -------------------------------------------------------------------------------
def test_serialisation_is_deterministic_and_dependency_ordered(templates: dict[str, dict[str, Any]],
                                                               artifacts: ArtifactSet) -> None:
    settings = settings_for("dev")
    first = to_json(main_template(settings, bootstrap_for(settings), artifacts))
    assert first == to_json(main_template(settings, bootstrap_for(settings), artifacts))
    order = list(json.loads(first)["Resources"])
    assert order.index("AlertTopic") < order.index("StateMachineRole") < order.index("StateMachineIngestion")
    bootstrap_order = list(json.loads(to_json(bootstrap_template(settings)))["Resources"])
    assert bootstrap_order.index("LakeKey") < bootstrap_order.index("ArtifactsBucket")
    with pytest.raises(ValueError, match="circular"):
        dependency_order({"A": {"Properties": {"x": {"Ref": "B"}}}, "B": {"Properties": {"y": {"Ref": "A"}}}})


@pytest.mark.parametrize("kwargs", [{"stage": "qa"}, {"account": "12345"}, {"prefix": "Bad_Prefix"}])
def test_settings_reject_bad_values(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        DeploySettings(**{"stage": "dev", "account": ACCOUNT, **kwargs})


def test_bucket_names_fit_s3_limits() -> None:
    settings = DeploySettings(stage="staging", account=ACCOUNT, prefix="a" * 20)
    assert all(len(settings.bucket_name(p)) <= 63 for p in ("bronze", "artifacts", "logs"))



def test_prod_glue_capacity_comes_from_its_stage_profile(templates: dict[str, dict[str, Any]]) -> None:
    """prod takes the sized capacity (infra/settings.PROD_GLUE_CAPACITY); dev keeps the registry defaults."""
    from infra.settings import PROD_GLUE_CAPACITY

    for stage in ("dev", "prod"):
        settings = settings_for(stage)
        jobs = {body["Properties"]["Name"]: body["Properties"]
                for body in resources_of(templates[f"main-{stage}"], "AWS::Glue::Job").values()}
        for name, spec in GLUE_JOBS.items():
            if spec.job_type != "glueetl":
                continue
            job = jobs[settings.glue_job_name(name)]
            sized = PROD_GLUE_CAPACITY.get(name) if stage == "prod" else None
            wanted = (sized.worker_type, sized.workers) if sized else (spec.worker_type, spec.number_of_workers)
            assert (job["WorkerType"], job["NumberOfWorkers"]) == wanted, (stage, name)
