"""Deploy both stacks to a moto server over HTTP and check what moto really creates.

Verified against moto here: the deploy mechanics (dry run, change sets created, printed, executed and
waited on, "nothing to do", updates), artifact uploads (once, content-addressed, SSE-KMS), stack
outputs, and the resources moto's CloudFormation creates: the KMS key and alias, the buckets with
their encryption and tags, the IAM roles and their inline policies, the SNS topic, the state machine
and its definition, the EventBridge rules and targets, the log group. The access matrix evaluates the
deployed IAM policies with moto's policy evaluator (assumed-role credentials against S3).

The DR stack goes to a second region (us-west-2) of the same server: its key and gold's replica bucket,
and gold's replication configuration pointing at them (versioning and replication are applied by
infra.emulator's fix; moto stores replication but never copies objects).

moto skips (template-only, see tests/test_infra_template.py): AWS::Glue::Database, AWS::Glue::Job,
AWS::Glue::SecurityConfiguration, AWS::S3::BucketPolicy, AWS::SNS::TopicPolicy,
AWS::SecretsManager::Secret, AWS::CloudWatch::Alarm, AWS::CloudTrail::Trail; bucket public-access
blocks and lifecycle rules; replication's delete-marker setting; state-machine
DefinitionSubstitutions, logging and tracing; role trust policies and managed policies; IAM conditions
other than StringEquals.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import set_initial_no_auth_action_count

from infra import changeset, monitoring
from infra.deploy import DeployResult, deploy, main
from infra.packaging import collect_artifacts
from jobs import run_metrics
from pipelines.registry import GLUE_JOBS, PIPELINES, REPO_ROOT
from tests.moto_endpoint import empty_moto_server

pytestmark = [pytest.mark.integration,
              # moto announces each resource type it skips; the module docstring lists them.
              pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")]

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
MOTO_SKIPPED_TYPES = {
    "AWS::Glue::Database", "AWS::Glue::Job", "AWS::Glue::SecurityConfiguration", "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy", "AWS::SecretsManager::Secret", "AWS::CloudWatch::Alarm", "AWS::CloudTrail::Trail",
}
DR_REGION = "us-west-2"


def bucket(layer: str, stage: str = "dev") -> str:
    return f"lakehouse-{stage}-{layer}-{ACCOUNT}"


@pytest.fixture(scope="module")
def frozen_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A snapshot of what deploy packages, so edits to the checkout during the run change nothing."""
    root = tmp_path_factory.mktemp("repo")
    for name in ("pyproject.toml", "requirements-model.txt"):
        shutil.copy2(REPO_ROOT / name, root / name)
    for folder in ("jobs", "pipelines", "infra", "contracts", "expectations"):
        if (REPO_ROOT / folder).exists():
            shutil.copytree(REPO_ROOT / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with empty_moto_server(REGION) as url:
        yield url


def client(endpoint: str, service: str, region: str = REGION, **credentials: str) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=endpoint, **credentials)


@dataclass
class Run:
    result: DeployResult
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def text_lines(self) -> list[str]:
        return self.text.splitlines()


def run_deploy(endpoint: str, repo: Path, stage: str = "dev", dry_run: bool = False, **kwargs: Any) -> Run:
    lines: list[str] = []
    result = deploy(stage, REGION, endpoint, dry_run, printer=lines.append, poll_seconds=0.05, repo_root=repo,
                    **kwargs)
    return Run(result, lines)


@dataclass
class FirstDeploy:
    dry_run: Run
    stacks_after_dry_run: list[str]
    buckets_after_dry_run: list[str]
    deploy: Run


@pytest.fixture(scope="module")
def first_deploy(endpoint: str, frozen_repo: Path) -> FirstDeploy:
    cfn, s3 = client(endpoint, "cloudformation"), client(endpoint, "s3")
    dry = run_deploy(endpoint, frozen_repo, dry_run=True)
    stacks = [s["StackName"] for s in cfn.list_stacks()["StackSummaries"] if s["StackStatus"] != "DELETE_COMPLETE"]
    buckets = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    return FirstDeploy(dry, stacks, buckets, run_deploy(endpoint, frozen_repo))


# -- deploy mechanics -----------------------------------------------------------------------------------
def test_dry_run_on_an_empty_account_prints_the_plan_and_leaves_nothing(first_deploy: FirstDeploy) -> None:
    dry = first_deploy.dry_run
    assert (dry.result.bootstrap.outcome, dry.result.main.outcome) == ("planned", "planned")
    assert "Change set for stack lakehouse-dev-bootstrap (CREATE, 6 changes):" in dry.text
    assert any(line.split()[:3] == ["Add", "LakeKey", "AWS::KMS::Key"] for line in dry.text_lines)
    assert "dry run, change set deleted without executing it" in dry.text
    assert any(line.split() == ["Add", "GlueJobBronzeToSilver", "AWS::Glue::Job"] for line in dry.text_lines)
    assert first_deploy.stacks_after_dry_run == [] and first_deploy.buckets_after_dry_run == []


def test_deploy_executes_one_change_set_per_stack(first_deploy: FirstDeploy, endpoint: str) -> None:
    cfn = client(endpoint, "cloudformation")
    run = first_deploy.deploy
    assert (run.result.bootstrap.outcome, run.result.main.outcome) == ("created", "created")
    for stack in ("lakehouse-dev-bootstrap", "lakehouse-dev"):
        assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        assert [c["ExecutionStatus"] for c in change_sets_of(cfn, stack)] == ["EXECUTE_COMPLETE"]
        assert f"{stack}: executing the change set" in run.text and f"{stack}: CREATE_COMPLETE" in run.text
    header = next(line for line in run.text_lines if line.strip().startswith("Action"))
    assert header.split() == ["Action", "Logical", "ID", "Type", "Replacement"]
    main_changes = {(c.action, c.logical_id, c.resource_type) for c in run.result.main.changes}
    template = json.loads(_body(endpoint, "lakehouse-dev"))
    assert main_changes == {("Add", logical_id, body["Type"]) for logical_id, body in template["Resources"].items()}
    assert any("CREATE_COMPLETE" in line and "(AWS::CloudFormation::Stack)" in line for line in run.lines)


def change_sets_of(cfn: Any, stack: str) -> list[dict[str, Any]]:
    """moto lists every stack's change sets (and keeps executed ones, which AWS deletes)."""
    return [c for c in cfn.list_change_sets(StackName=stack)["Summaries"] if c["StackName"] == stack]


def _body(endpoint: str, stack: str) -> str:
    body = client(endpoint, "cloudformation").get_template(StackName=stack)["TemplateBody"]
    return body if isinstance(body, str) else json.dumps(body)


def test_artifacts_are_uploaded_once_under_content_addressed_keys(first_deploy: FirstDeploy, endpoint: str,
                                                                  frozen_repo: Path) -> None:
    s3 = client(endpoint, "s3")
    artifacts = collect_artifacts(frozen_repo)
    expected = {artifact.key: artifact.body for artifact in artifacts.all()}
    listed = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket("artifacts"))["Contents"]}
    template_keys = {key for key in listed if key.startswith("templates/")}
    assert listed == set(expected) | template_keys and len(template_keys) == 1
    assert set(first_deploy.deploy.result.uploads.uploaded) == listed
    key_arn = first_deploy.deploy.result.bootstrap.outputs["KmsKeyArn"]
    for key, body in expected.items():
        stored = s3.get_object(Bucket=bucket("artifacts"), Key=key)
        assert stored["Body"].read() == body, key
        assert (stored["ServerSideEncryption"], stored["SSEKMSKeyId"]) == ("aws:kms", key_arn)


def test_stack_outputs(first_deploy: FirstDeploy, endpoint: str) -> None:
    bootstrap = changeset.stack_outputs(client(endpoint, "cloudformation"), "lakehouse-dev-bootstrap")
    assert bootstrap["ArtifactsBucketName"] == bucket("artifacts")
    assert bootstrap["LogsBucketName"] == bucket("logs")
    assert bootstrap["KmsKeyArn"].startswith(f"arn:aws:kms:{REGION}:{ACCOUNT}:key/")
    outputs = first_deploy.deploy.result.main.outputs
    assert {outputs[f"{layer.capitalize()}BucketName"] for layer in ("bronze", "silver", "gold")} == {
        bucket("bronze"), bucket("silver"), bucket("gold")}
    assert outputs["StateMachineIngestionArn"] == \
        f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:lakehouse-dev-ingestion"
    assert outputs["DataScientistRoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/lakehouse-dev-DataScientistRole"
    assert outputs["AlertTopicArn"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:lakehouse-dev-alerts"


def test_moto_creates_every_resource_but_the_types_it_skips(first_deploy: FirstDeploy, endpoint: str) -> None:
    for stack, region in (("lakehouse-dev-bootstrap", REGION), ("lakehouse-dev", REGION),
                          ("lakehouse-dev-dr", DR_REGION)):
        cfn = client(endpoint, "cloudformation", region)
        template = cfn.get_template(StackName=stack)["TemplateBody"]
        template = json.loads(template) if isinstance(template, str) else template
        created = {r["LogicalResourceId"] for r in cfn.list_stack_resources(StackName=stack)
                   ["StackResourceSummaries"] if r["LogicalResourceId"]}  # skipped ones are listed blank
        expected = {logical_id for logical_id, body in template["Resources"].items()
                    if body["Type"] not in MOTO_SKIPPED_TYPES}
        assert created == expected, stack


def test_second_deploy_changes_nothing(first_deploy: FirstDeploy, endpoint: str, frozen_repo: Path) -> None:
    cfn = client(endpoint, "cloudformation")
    again = run_deploy(endpoint, frozen_repo)
    assert (again.result.bootstrap.outcome, again.result.main.outcome) == ("unchanged", "unchanged")
    assert again.result.uploads.uploaded == [] and not again.result.changed
    assert "Nothing to do" in again.text
    for stack in ("lakehouse-dev-bootstrap", "lakehouse-dev"):
        assert len(change_sets_of(cfn, stack)) == 1


def test_a_change_set_without_changes_is_deleted(first_deploy: FirstDeploy, endpoint: str) -> None:
    """The other 'nothing to do' path: CloudFormation itself reports the change set as empty."""
    cfn = client(endpoint, "cloudformation")
    plan = changeset.create_change_set(cfn, "lakehouse-dev-bootstrap",
                                       changeset.TemplateSource(_body(endpoint, "lakehouse-dev-bootstrap")),
                                       {}, print, poll_seconds=0.05, compare_first=False)
    assert plan is None
    assert len(change_sets_of(cfn, "lakehouse-dev-bootstrap")) == 1


# -- what moto really created ------------------------------------------------------------------------------
def test_kms_key_and_buckets(first_deploy: FirstDeploy, endpoint: str) -> None:
    kms, s3 = client(endpoint, "kms"), client(endpoint, "s3")
    key_arn = first_deploy.deploy.result.bootstrap.outputs["KmsKeyArn"]
    key_id = key_arn.split("/")[-1]
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    assert {t["TagKey"] for t in kms.list_resource_tags(KeyId=key_id)["Tags"]} >= {
        "Team", "Project", "Environment", "CostCenter"}
    assert "alias/lakehouse-dev" in {a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]}
    for layer in ("bronze", "silver", "gold", "artifacts", "logs"):
        rule = s3.get_bucket_encryption(Bucket=bucket(layer))["ServerSideEncryptionConfiguration"]["Rules"][0]
        default = rule["ApplyServerSideEncryptionByDefault"]
        if layer == "logs":
            assert default == {"SSEAlgorithm": "AES256"}
        else:
            assert (default["SSEAlgorithm"], default["KMSMasterKeyID"]) == ("aws:kms", key_arn)
        tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket(layer))["TagSet"]}
        assert tags["Environment"] == "dev" and tags["Project"] == "lakehouse", layer


def test_online_feature_table(first_deploy: FirstDeploy, endpoint: str) -> None:
    """The DynamoDB online store: on-demand, SSE-KMS with the stack's key, PITR, TTL on expires_at."""
    dynamodb = client(endpoint, "dynamodb")
    name = first_deploy.deploy.result.main.outputs["OnlineFeaturesTableName"]
    assert name == ONLINE_TABLE
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "customer_id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    key_arn = first_deploy.deploy.result.bootstrap.outputs["KmsKeyArn"]
    assert (table["SSEDescription"]["SSEType"], table["SSEDescription"]["KMSMasterKeyArn"]) == ("KMS", key_arn)
    backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_roles_topic_state_machine_rules_and_logs(first_deploy: FirstDeploy, endpoint: str) -> None:
    iam, sns, sfn = client(endpoint, "iam"), client(endpoint, "sns"), client(endpoint, "stepfunctions")
    events, logs = client(endpoint, "events"), client(endpoint, "logs")
    outputs = first_deploy.deploy.result.main.outputs
    for suffix in ("glue-job", "state-machine", "eventbridge", "sagemaker-execution", "DataScientistRole",
                   "AppDeveloperRole", "DataEngineerRole", "gold-replication"):
        name = f"lakehouse-dev-{suffix}"
        role = iam.get_role(RoleName=name)["Role"]
        assert {t["Key"] for t in role["Tags"]} == {"Team", "Project", "Environment", "CostCenter"}
        document = iam.get_role_policy(RoleName=name, PolicyName="least-privilege")["PolicyDocument"]
        assert document["Statement"], name
    topic = sns.get_topic_attributes(TopicArn=outputs["AlertTopicArn"])["Attributes"]
    assert topic["KmsMasterKeyId"] == first_deploy.deploy.result.bootstrap.outputs["KmsKeyArn"]
    machine = sfn.describe_state_machine(stateMachineArn=outputs["StateMachineIngestionArn"])
    assert machine["definition"] == PIPELINES["ingestion"].definition_path.read_text()  # substitutions: template
    assert machine["roleArn"] == outputs["StateMachineRoleArn"]
    schedule = events.describe_rule(Name="lakehouse-dev-ingestion-schedule")
    assert (schedule["ScheduleExpression"], schedule["State"]) == (PIPELINES["ingestion"].schedule, "DISABLED")
    target = events.list_targets_by_rule(Rule="lakehouse-dev-ingestion-schedule")["Targets"][0]
    assert (target["Arn"], target["RoleArn"]) == (outputs["StateMachineIngestionArn"], outputs["EventBridgeRoleArn"])
    assert '"datasets": ["customers", "support_tickets", "transactions"]' in target["InputTransformer"]["InputTemplate"]
    failures = json.loads(events.describe_rule(Name="lakehouse-dev-glue-job-failures")["EventPattern"])
    assert sorted(failures["detail"]["jobName"]) == sorted(f"lakehouse-dev-{name}" for name in GLUE_JOBS)
    assert events.list_targets_by_rule(Rule="lakehouse-dev-glue-job-failures")["Targets"][0]["Arn"] == \
        outputs["AlertTopicArn"]
    group = logs.describe_log_groups(logGroupNamePrefix="/aws/vendedlogs/states/lakehouse-dev-ingestion")
    assert group["logGroups"][0]["retentionInDays"] == 30


# -- access matrix ---------------------------------------------------------------------------------------------
# Where each role may read (r), write (w) and delete (d); a location not listed means no access at all.
LOCATIONS = {
    "bronze": ("bronze", "customers/ingest_date=2024-01-03/part-0.jsonl"),
    "quarantine": ("bronze", "quarantine/customers/ingest_date=2024-01-03/part-0.parquet"),
    "silver": ("silver", "customers/year=2024/month=01/day=03/part-0.parquet"),
    "gold": ("gold", "customer_features/as_of=2024-01-03/part-0.parquet"),
    "gold_scores": ("gold", "model_scores/run_date=2024-01-03/part-0.parquet"),
    "gold_replica": ("gold-dr", "customer_features/metadata/00001-0000.metadata.json"),
    "scripts": ("artifacts", "scripts/0123456789abcdef/bronze_to_silver.py"),
    "wheels": ("artifacts", "wheels/0123456789abcdef/lakehouse-0.1.0-py3-none-any.whl"),
    "ops": ("artifacts", "ops/runs/ingestion/run_date=2024-01-03/r1/manifest.json"),
    "models": ("artifacts", "ops/models/fraud_model/training-2024-01-03/metrics.json"),
    "ml_source": ("artifacts", "ml/0123456789abcdef/sourcedir.tar.gz"),
}
EXPECTED_ACCESS: dict[str, dict[str, str]] = {
    "glue-job": {"bronze": "r", "quarantine": "rwd", "silver": "rwd", "gold": "rwd", "gold_scores": "rwd",
                 "scripts": "r", "wheels": "r", "ops": "rwd", "models": "rwd"},
    "sagemaker-execution": {"gold": "r", "gold_scores": "rwd", "models": "rwd", "ml_source": "r"},
    "DataScientistRole": {"silver": "rwd", "gold": "rwd", "gold_scores": "rwd", "gold_replica": "r"},
    "AppDeveloperRole": {"gold": "r", "gold_scores": "r", "gold_replica": "r"},
    # Runs and repairs ingestion; the quarantine stays read-only (an explicit deny under bronze's grant).
    "DataEngineerRole": {"bronze": "rwd", "quarantine": "r", "silver": "rwd", "gold": "rwd", "gold_scores": "rwd",
                         "gold_replica": "rwd", "ops": "r", "models": "r"},
    "state-machine": {"models": "r"},  # ReadEvaluation: a model version's metrics.json
    "eventbridge": {},
    "gold-replication": {},  # S3 replicates with s3:Replicate*/GetObjectVersion*, never plain Get/Put
}
# The online feature store (DynamoDB): read = GetItem, write = PutItem.
ONLINE_TABLE = "lakehouse-dev-customer-features"
EXPECTED_ONLINE_ACCESS: dict[str, str] = {"glue-job": "rw", "AppDeveloperRole": "r"}
EXPECTED_LISTING: dict[str, set[str]] = {
    "glue-job": {"bronze", "silver", "gold", "artifacts"},
    "sagemaker-execution": {"gold", "artifacts"},
    "DataScientistRole": {"silver", "gold", "gold-dr"},
    "AppDeveloperRole": {"gold", "gold-dr"},
    "DataEngineerRole": {"bronze", "silver", "gold", "artifacts", "gold-dr"},
    "state-machine": set(),
    "eventbridge": set(),
    "gold-replication": {"gold"},
}


def _allowed(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as error:
        # moto answers a denied DynamoDB call with S3's XML error, which botocore's JSON parser reads as "403"
        if error.response["Error"]["Code"] not in ("AccessDenied", "AccessDeniedException", "403"):
            raise
        return False
    return True


def _object_access(role_s3: Any, name: str, key: str) -> str:
    """"r", "w", "d" for each of GetObject, PutObject, DeleteObject the role may call."""
    return "".join(letter for letter, call, kwargs in (
        ("r", role_s3.get_object, {"Key": key}),
        ("w", role_s3.put_object, {"Key": key + ".new", "Body": b"x"}),
        ("d", role_s3.delete_object, {"Key": key + ".new"}),
    ) if _allowed(call, Bucket=name, **kwargs))


def _online_access(role_dynamodb: Any) -> str:
    """"r", "w" for GetItem, PutItem on the online feature table."""
    key = {"customer_id": {"S": "C-matrix"}}
    return "".join(letter for letter, call, kwargs in (
        ("r", role_dynamodb.get_item, {"Key": key}),
        ("w", role_dynamodb.put_item, {"Item": {**key, "as_of_date": {"S": "2024-01-03"}}}),
    ) if _allowed(call, TableName=ONLINE_TABLE, **kwargs))


def test_access_matrix_with_moto_policy_evaluation(first_deploy: FirstDeploy, endpoint: str) -> None:
    iam, s3 = client(endpoint, "iam"), client(endpoint, "s3")
    for layer, key in LOCATIONS.values():
        s3.put_object(Bucket=bucket(layer), Key=key, Body=b"seed")
    iam.create_user(UserName="access-matrix")
    iam.put_user_policy(UserName="access-matrix", PolicyName="assume", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="access-matrix")["AccessKey"]
    sts = client(endpoint, "sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
    # Assumed while auth is still off: moto's trust-policy check knows neither service principals nor the
    # account root as "any principal of the account"; the trust policies are asserted on the template.
    role_clients, role_tables = {}, {}
    for role in EXPECTED_ACCESS:
        credentials = sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/lakehouse-dev-{role}",
                                      RoleSessionName="access-matrix")["Credentials"]
        session = {"aws_access_key_id": credentials["AccessKeyId"],
                   "aws_secret_access_key": credentials["SecretAccessKey"],
                   "aws_session_token": credentials["SessionToken"]}
        role_clients[role] = client(endpoint, "s3", **session)
        role_tables[role] = client(endpoint, "dynamodb", **session)

    def evaluate() -> tuple[dict[str, dict[str, str]], dict[str, set[str]], dict[str, str]]:
        access = {role: {location: granted for location, (layer, object_key) in LOCATIONS.items()
                         if (granted := _object_access(role_s3, bucket(layer), object_key))}
                  for role, role_s3 in role_clients.items()}
        listing = {role: {layer for layer in ("bronze", "silver", "gold", "artifacts", "gold-dr")
                          if _allowed(role_s3.list_objects_v2, Bucket=bucket(layer))}
                   for role, role_s3 in role_clients.items()}
        online = {role: granted for role, role_dynamodb in role_tables.items()
                  if (granted := _online_access(role_dynamodb))}
        return access, listing, online

    access, listing, online = set_initial_no_auth_action_count(0)(evaluate)()
    assert access == EXPECTED_ACCESS
    assert listing == EXPECTED_LISTING
    assert online == EXPECTED_ONLINE_ACCESS


# Catalog, jobs and state machines: moto checks these APIs against resource "*" only, so the deployed
# inline policies are evaluated with moto's own policy evaluator against the real resource ARNs.
CATALOG = f"arn:aws:glue:{REGION}:{ACCOUNT}"
DR_CATALOG = f"arn:aws:glue:{DR_REGION}:{ACCOUNT}"
CONTROL_ACTIONS = {
    "catalog_read_silver": ("glue:GetTable", f"{CATALOG}:table/lakehouse_dev/silver_customers"),
    "catalog_read_gold": ("glue:GetTable", f"{CATALOG}:table/lakehouse_dev/gold_customer_features"),
    "catalog_write_silver": ("glue:UpdateTable", f"{CATALOG}:table/lakehouse_dev/silver_customers"),
    "catalog_write_gold": ("glue:UpdateTable", f"{CATALOG}:table/lakehouse_dev/gold_customer_features"),
    "dr_catalog_read_gold": ("glue:GetTable", f"{DR_CATALOG}:table/lakehouse_dev/gold_customer_features"),
    "dr_catalog_register_gold": ("glue:CreateTable", f"{DR_CATALOG}:table/lakehouse_dev/gold_customer_features"),
    "catalog_delete_table": ("glue:DeleteTable", f"{CATALOG}:table/lakehouse_dev/silver_customers"),
    "dr_catalog_repoint_gold": ("glue:DeleteTable", f"{DR_CATALOG}:table/lakehouse_dev/gold_customer_features"),
    "start_glue_job": ("glue:StartJobRun", f"{CATALOG}:job/lakehouse-dev-bronze_to_silver"),
    "start_state_machine": ("states:StartExecution",
                            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:lakehouse-dev-ingestion"),
    "change_iam": ("iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/lakehouse-dev-glue-job"),
}
EXPECTED_CONTROL: dict[str, set[str]] = {
    "glue-job": {"catalog_read_silver", "catalog_read_gold", "catalog_write_silver", "catalog_write_gold"},
    "sagemaker-execution": set(),
    "DataScientistRole": {"catalog_read_silver", "catalog_read_gold", "dr_catalog_read_gold"},
    "AppDeveloperRole": {"catalog_read_gold", "dr_catalog_read_gold"},
    "DataEngineerRole": {"catalog_read_silver", "catalog_read_gold", "catalog_write_silver", "catalog_write_gold",
                         "dr_catalog_read_gold", "dr_catalog_register_gold", "dr_catalog_repoint_gold",
                         "start_glue_job",
                         "start_state_machine"},
    "state-machine": {"start_glue_job"},
    "eventbridge": {"start_state_machine"},
    "gold-replication": set(),
}


def test_catalog_jobs_and_state_machines_matrix(first_deploy: FirstDeploy, endpoint: str) -> None:
    from moto.iam.access_control import IAMPolicy, PermissionResult

    iam = client(endpoint, "iam")
    granted = {}
    for role in EXPECTED_CONTROL:
        document = iam.get_role_policy(RoleName=f"lakehouse-dev-{role}", PolicyName="least-privilege")["PolicyDocument"]
        policy = IAMPolicy(json.dumps(document))
        granted[role] = {name for name, (action, arn) in CONTROL_ACTIONS.items()
                         if policy.is_action_permitted(action, arn) == PermissionResult.PERMITTED}
    assert granted == EXPECTED_CONTROL


def test_dr_stack_and_gold_replication_in_two_regions(first_deploy: FirstDeploy, endpoint: str) -> None:
    result = first_deploy.deploy.result
    assert result.dr is not None and result.dr.outcome == "created"
    dr_cfn, dr_kms = client(endpoint, "cloudformation", DR_REGION), client(endpoint, "kms", DR_REGION)
    assert dr_cfn.describe_stacks(StackName="lakehouse-dev-dr")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    dr_key_arn, replica = result.dr.outputs["DrKmsKeyArn"], result.dr.outputs["DrGoldBucketName"]
    lake_key_arn = result.bootstrap.outputs["KmsKeyArn"]
    assert dr_key_arn.startswith(f"arn:aws:kms:{DR_REGION}:{ACCOUNT}:key/") and dr_key_arn != lake_key_arn
    assert dr_kms.describe_key(KeyId=dr_key_arn)["KeyMetadata"]["KeyState"] == "Enabled"
    assert replica == bucket("gold-dr")

    s3 = client(endpoint, "s3")
    rule = s3.get_bucket_encryption(Bucket=replica)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": dr_key_arn}
    assert s3.get_bucket_location(Bucket=replica)["LocationConstraint"] == DR_REGION
    for name in (bucket("gold"), replica):
        assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled", name
    replication = s3.get_bucket_replication(Bucket=bucket("gold"))["ReplicationConfiguration"]
    assert replication["Role"] == f"arn:aws:iam::{ACCOUNT}:role/lakehouse-dev-gold-replication"
    [rule] = replication["Rules"]
    assert rule["Status"] == "Enabled"
    destination = rule["Destination"]
    assert destination["Bucket"] == f"arn:aws:s3:::{replica}"
    assert destination["EncryptionConfiguration"]["ReplicaKmsKeyID"] == dr_key_arn
    assert destination["ReplicationTime"]["Status"] == "Enabled"
    assert destination["Metrics"]["Status"] == "Enabled"
    with pytest.raises(ClientError):  # silver is rebuilt from bronze: not replicated
        s3.get_bucket_replication(Bucket=bucket("silver"))


def test_pipeline_health_dashboard_plots_only_metrics_the_jobs_publish(first_deploy: FirstDeploy,
                                                                     endpoint: str) -> None:
    body = client(endpoint, "cloudwatch").get_dashboard(DashboardName="lakehouse-dev-pipeline-health")
    plotted = monitoring.dashboard_metric_names(json.loads(body["DashboardBody"]))
    assert plotted and plotted <= set(run_metrics.PUBLISHED_METRICS)
    assert first_deploy.deploy.result.main.outputs["PipelineHealthDashboardName"] == "lakehouse-dev-pipeline-health"


# -- updates, dry runs on existing stacks, the CLI ---------------------------------------------------------------
def test_update_and_dry_run_on_an_existing_stack(endpoint: str, frozen_repo: Path) -> None:
    cfn = client(endpoint, "cloudformation")
    assert run_deploy(endpoint, frozen_repo, "staging").result.main.outcome == "created"
    bigger = {**GLUE_JOBS, "bronze_to_silver": replace(GLUE_JOBS["bronze_to_silver"], number_of_workers=6)}

    dry = run_deploy(endpoint, frozen_repo, "staging", dry_run=True, glue_jobs=bigger)
    assert (dry.result.bootstrap.outcome, dry.result.main.outcome) == ("unchanged", "planned")
    assert {(c.action, c.logical_id) for c in dry.result.main.changes} >= {("Modify", "GlueJobBronzeToSilver")}
    assert "Would upload 0 of" in dry.text  # only the new template is uploaded: the plan needs it
    assert [c["ExecutionStatus"] for c in change_sets_of(cfn, "lakehouse-staging")] == ["EXECUTE_COMPLETE"]

    update = run_deploy(endpoint, frozen_repo, "staging", glue_jobs=bigger)
    assert update.result.main.outcome == "updated"
    assert update.result.uploads.uploaded == []  # the dry run already uploaded the new template
    assert cfn.describe_stacks(StackName="lakehouse-staging")["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
    deployed = json.loads(_body(endpoint, "lakehouse-staging"))
    assert deployed["Resources"]["GlueJobBronzeToSilver"]["Properties"]["NumberOfWorkers"] == 6


def test_cli_dry_run(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--stage", "prod", "--endpoint-url", endpoint, "--dry-run", "--region", REGION,
                 "--poll-seconds", "0.05", "--cost-center", "CC-4242"]) == 0
    printed = capsys.readouterr().out
    assert "Change set for stack lakehouse-prod-bootstrap (CREATE" in printed
    assert "(dry run)" in printed
    cfn = client(endpoint, "cloudformation")
    assert changeset.stack_status(cfn, "lakehouse-prod-bootstrap") is None
    with pytest.raises(SystemExit):
        main(["--stage", "qa", "--endpoint-url", endpoint])
