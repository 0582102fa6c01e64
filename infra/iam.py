"""IAM roles: the service roles (Glue jobs, state machines, EventBridge, SageMaker) and the RBAC roles.

Each role gets only the buckets, prefixes, jobs and topics it uses. The state-machine role is derived
from the Task states of the registered definitions (see `integration_statements`), so a pipeline
that starts calling a new service cannot be deployed until that service is given a policy here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infra.cfn import (
    Json,
    allow,
    arn,
    deny,
    get_att,
    policy_document,
    resource,
    s3_arn,
    same_account_condition,
    service_trust,
    sub,
)
from infra.settings import (
    GLUE_TEMP_PREFIX,
    JOB_ARTIFACT_PREFIXES,
    ML_SOURCE_PREFIX,
    MODELS_PREFIX,
    OPS_PREFIX,
    QUARANTINE_PREFIX,
    DeploySettings,
    catalog_table_name,
)
from infra.storage import BootstrapOutputs, DrOutputs
from jobs.run_metrics import NAMESPACE as METRICS_NAMESPACE
from pipelines import asl

GLUE_JOB_ROLE_ID = "GlueJobRole"
STATE_MACHINE_ROLE_ID = "StateMachineRole"
EVENTBRIDGE_ROLE_ID = "EventBridgeRole"
SAGEMAKER_ROLE_ID = "SageMakerExecutionRole"
DATA_SCIENTIST_ROLE_ID = "DataScientistRole"
APP_DEVELOPER_ROLE_ID = "AppDeveloperRole"
DATA_ENGINEER_ROLE_ID = "DataEngineerRole"
REPLICATION_ROLE_ID = "GoldReplicationRole"
# Physical names are `<prefix>-<stage>-<suffix>`.
ROLE_NAME_SUFFIXES = {
    GLUE_JOB_ROLE_ID: "glue-job",
    STATE_MACHINE_ROLE_ID: "state-machine",
    EVENTBRIDGE_ROLE_ID: "eventbridge",
    SAGEMAKER_ROLE_ID: "sagemaker-execution",
    DATA_SCIENTIST_ROLE_ID: "DataScientistRole",
    APP_DEVELOPER_ROLE_ID: "AppDeveloperRole",
    DATA_ENGINEER_ROLE_ID: "DataEngineerRole",
    REPLICATION_ROLE_ID: "gold-replication",
}

# Gold prefix that batch inference writes model scores to (the only gold write SageMaker has).
MODEL_SCORES_PREFIX = "model_scores/"

S3_READ = ("s3:GetObject",)
S3_WRITE = ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
ONLINE_READ = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:DescribeTable"]
ONLINE_WRITE = ["dynamodb:PutItem", "dynamodb:UpdateItem"]
S3_LIST = ("s3:ListBucket", "s3:GetBucketLocation")

IAM_MUTATIONS = ("iam:Add*", "iam:Attach*", "iam:Create*", "iam:Delete*", "iam:Detach*", "iam:Put*",
                 "iam:Remove*", "iam:Set*", "iam:Tag*", "iam:Untag*", "iam:Update*", "iam:Upload*")
NETWORK_MUTATIONS = ("ec2:Accept*", "ec2:Allocate*", "ec2:Associate*", "ec2:Attach*", "ec2:Authorize*",
                     "ec2:Create*", "ec2:Delete*", "ec2:Detach*", "ec2:Disassociate*", "ec2:Modify*",
                     "ec2:Release*", "ec2:Replace*", "ec2:Revoke*")

SAGEMAKER_FULL_ACCESS = "arn:${AWS::Partition}:iam::aws:policy/AmazonSageMakerFullAccess"


class UnsupportedIntegrationError(ValueError):
    """A state machine calls a service integration that no policy here covers."""


# -- small builders -------------------------------------------------------------------------------
def s3_objects(actions: Iterable[str], bucket: str, prefixes: Iterable[str] = ("",)) -> Json:
    return allow(actions, [s3_arn(bucket, f"{prefix}*") for prefix in prefixes])


def s3_list(*buckets: str) -> Json:
    return allow(S3_LIST, [s3_arn(name) for name in buckets])


def role_name(settings: DeploySettings, logical_id: str) -> str:
    return settings.name(ROLE_NAME_SUFFIXES[logical_id])


def role_arn(settings: DeploySettings, logical_id: str) -> Json:
    """The ARN built from the name: usable where Fn::GetAtt would create a circular reference."""
    return sub(f"arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{role_name(settings, logical_id)}")


def role(settings: DeploySettings, logical_id: str, description: str, trust: Json,
         statements: list[Json], managed_policies: list[Any] | None = None) -> Json:
    properties: Json = {
        "RoleName": role_name(settings, logical_id),
        "Description": description,
        "AssumeRolePolicyDocument": trust,
        "Policies": [{"PolicyName": "least-privilege", "PolicyDocument": policy_document(statements)}],
    }
    if managed_policies:
        properties["ManagedPolicyArns"] = managed_policies
    return resource("AWS::IAM::Role", properties)


def human_trust() -> Json:
    """People assume the RBAC roles from the account's identities, with MFA."""
    return policy_document([{
        "Effect": "Allow",
        "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")},
        "Action": "sts:AssumeRole",
        "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
    }])


def glue_job_arns(settings: DeploySettings, job_names: Iterable[str]) -> list[Json]:
    return [arn("glue", f"job/{settings.glue_job_name(name)}") for name in sorted(job_names)]


def catalog_arns(settings: DeploySettings, table_pattern: str = "*", region: str | None = None) -> list[Json]:
    """The stage's database and tables in this region's catalog (or `region`'s: the DR catalog)."""
    database = settings.glue_database
    where = region or "${AWS::Region}"
    return [sub(f"arn:${{AWS::Partition}}:glue:{where}:${{AWS::AccountId}}:{item}")
            for item in ("catalog", f"database/{database}", f"table/{database}/{table_pattern}")]


CATALOG_READ = ("glue:GetDatabase", "glue:GetDatabases", "glue:GetTable", "glue:GetTables", "glue:GetTableVersion",
                "glue:GetTableVersions", "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition",
                "glue:SearchTables")
# Repairing or re-registering tables (never deleting them or the database).
CATALOG_WRITE = ("glue:CreateTable", "glue:UpdateTable", "glue:CreatePartition", "glue:BatchCreatePartition",
                 "glue:UpdatePartition")


def catalog_read(settings: DeploySettings, table_pattern: str = "*", dr: DrOutputs | None = None) -> Json:
    """Catalog reads in the primary region, and in the DR region's catalog once tables are restored there."""
    arns = catalog_arns(settings, table_pattern) + (catalog_arns(settings, table_pattern, dr.region) if dr else [])
    return allow(CATALOG_READ, arns)


def replica_read(dr: DrOutputs | None, *, write: bool = False) -> list[Json]:
    """Gold's replica in the DR region (what gold readers read after a failover) and its key."""
    if dr is None:
        return []
    actions = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
    return [s3_list(dr.gold_bucket),
            s3_objects(S3_READ + (S3_WRITE if write else ()), dr.gold_bucket),
            allow(actions, dr.kms_key_arn,
                  condition={"StringEquals": {"kms:ViaService": f"s3.{dr.region}.amazonaws.com"}})]


def kms_via_s3(kms_key_arn: str, *, write: bool) -> Json:
    """Key use only through S3 in this region: the key cannot be used to decrypt anything else."""
    return kms_via("s3", kms_key_arn, write=write)


def kms_via(service: str, kms_key_arn: str, *, write: bool) -> Json:
    """Key use only through `service` (s3, dynamodb) in this region."""
    actions = ["kms:Decrypt", "kms:DescribeKey"] + (["kms:Encrypt", "kms:GenerateDataKey"] if write else [])
    return allow(actions, kms_key_arn,
                 condition={"StringEquals": {"kms:ViaService": sub(f"{service}.${{AWS::Region}}.amazonaws.com")}})


def online_table_arn(settings: DeploySettings) -> Json:
    return arn("dynamodb", f"table/{settings.online_table}")


def log_statements(log_group_pattern: str) -> Json:
    return allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
                  "logs:AssociateKmsKey"],
                 [arn("logs", f"log-group:{log_group_pattern}"),
                  arn("logs", f"log-group:{log_group_pattern}:log-stream:*")])


def metrics_statement(namespace: str) -> Json:
    """PutMetricData has no resource-level permissions; the namespace condition scopes it instead."""
    return allow(["cloudwatch:PutMetricData"], "*",
                 condition={"StringLike": {"cloudwatch:namespace": namespace}})


# -- service roles ---------------------------------------------------------------------------------
def glue_job_role(settings: DeploySettings, bootstrap: BootstrapOutputs) -> Json:
    bronze, silver, gold = (settings.bucket_name(layer) for layer in ("bronze", "silver", "gold"))
    artifacts = bootstrap.artifacts_bucket
    statements = [
        s3_list(bronze, silver, gold, artifacts),
        s3_objects(S3_READ, bronze),
        s3_objects(S3_WRITE, bronze, [QUARANTINE_PREFIX]),
        s3_objects(S3_READ + S3_WRITE, silver),
        s3_objects(S3_READ + S3_WRITE, gold),
        s3_objects(S3_READ, artifacts, JOB_ARTIFACT_PREFIXES),
        s3_objects(S3_READ + S3_WRITE, artifacts, [OPS_PREFIX, GLUE_TEMP_PREFIX]),
        allow(["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
              bootstrap.kms_key_arn),
        allow(["glue:GetDatabase", "glue:GetTable", "glue:GetTables", "glue:CreateTable", "glue:UpdateTable",
               "glue:GetPartition", "glue:GetPartitions", "glue:BatchGetPartition", "glue:CreatePartition",
               "glue:BatchCreatePartition", "glue:UpdatePartition"], catalog_arns(settings)),
        allow(["secretsmanager:GetSecretValue"],
              arn("secretsmanager", f"secret:{settings.pii_key_secret_name}-*")),
        # materialize_features writes (conditional PutItem); `features check` reads back (BatchGetItem).
        allow(ONLINE_READ + ONLINE_WRITE, online_table_arn(settings)),
        log_statements("/aws-glue/*"),
        metrics_statement("Glue"),
        metrics_statement(METRICS_NAMESPACE),  # finalize_run's pipeline-health metrics
    ]
    return role(settings, GLUE_JOB_ROLE_ID, "Runs the lakehouse Glue jobs.",
                service_trust("glue.amazonaws.com", condition=same_account_condition()), statements)


def sagemaker_execution_role(settings: DeploySettings, bootstrap: BootstrapOutputs) -> Json:
    gold = settings.bucket_name("gold")
    artifacts = bootstrap.artifacts_bucket
    statements = [
        s3_list(gold, artifacts),
        s3_objects(S3_READ, gold),
        s3_objects(S3_WRITE, gold, [MODEL_SCORES_PREFIX]),
        # Training writes its model and output under the registry; transform and models read them back.
        s3_objects(S3_READ + S3_WRITE, artifacts, [MODELS_PREFIX]),
        s3_objects(S3_READ, artifacts, [ML_SOURCE_PREFIX]),
        allow(["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"],
              bootstrap.kms_key_arn),
        # Pulling the SageMaker scikit-learn image: the token call has no resource-level permissions.
        allow(["ecr:GetAuthorizationToken"], "*"),
        allow(["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
              sub("arn:${AWS::Partition}:ecr:${AWS::Region}:*:repository/sagemaker-scikit-learn")),
        log_statements("/aws/sagemaker/*"),
        metrics_statement("/aws/sagemaker/*"),
    ]
    return role(settings, SAGEMAKER_ROLE_ID, "Runs the lakehouse SageMaker training and inference.",
                service_trust("sagemaker.amazonaws.com", condition=same_account_condition()), statements)


def integration_statements(settings: DeploySettings, integration: str, sync: bool,
                           job_names: Iterable[str], alert_topic: Any, artifacts_bucket: str | None = None
                           ) -> list[Json]:
    """The permissions one Step Functions service integration needs (see AWS's IAM policy docs)."""
    prefix = settings.name("")
    if integration == "aws-sdk:s3:getObject" and artifacts_bucket:
        # Only the model registry: the training pipeline reads a version's metrics.json to decide.
        return [s3_objects(S3_READ, artifacts_bucket, [MODELS_PREFIX])]
    if integration == "glue:startJobRun":
        actions = ["glue:StartJobRun"] + (["glue:BatchStopJobRun", "glue:GetJobRun", "glue:GetJobRuns"]
                                          if sync else [])
        return [allow(actions, glue_job_arns(settings, job_names))]
    if integration == "sns:publish":
        return [allow(["sns:Publish"], alert_topic)]
    sagemaker_jobs = {"sagemaker:createTrainingJob": ("training-job", "TrainingJobs"),
                      "sagemaker:createTransformJob": ("transform-job", "TransformJobs")}
    if integration in sagemaker_jobs:
        kind, rule_suffix = sagemaker_jobs[integration]
        api = integration.split(":", 1)[1].removeprefix("create")
        statements = [
            allow([f"sagemaker:Create{api}", f"sagemaker:Describe{api}", f"sagemaker:Stop{api}",
                   "sagemaker:AddTags"], arn("sagemaker", f"{kind}/{prefix}*")),
            pass_role_to_sagemaker(),
        ]
        if sync:
            statements.append(allow(["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                                    arn("events", f"rule/StepFunctionsGetEventsForSageMaker{rule_suffix}Rule")))
        return statements
    sagemaker_models = {"sagemaker:createModel": ("model", ["sagemaker:CreateModel", "sagemaker:AddTags"]),
                        "sagemaker:createEndpointConfig": ("endpoint-config", ["sagemaker:CreateEndpointConfig",
                                                                               "sagemaker:AddTags"]),
                        "sagemaker:createEndpoint": ("endpoint", ["sagemaker:CreateEndpoint",
                                                                  "sagemaker:AddTags"]),
                        "sagemaker:updateEndpoint": ("endpoint", ["sagemaker:UpdateEndpoint"])}
    if integration in sagemaker_models:
        kind, actions = sagemaker_models[integration]
        statements = [allow(actions, arn("sagemaker", f"{kind}/{prefix}*"))]
        if integration == "sagemaker:createModel":
            statements.append(pass_role_to_sagemaker())
        if integration in {"sagemaker:createEndpoint", "sagemaker:updateEndpoint"}:
            statements.append(allow(["sagemaker:DescribeEndpoint"], arn("sagemaker", f"endpoint/{prefix}*")))
        return statements
    raise UnsupportedIntegrationError(
        f"state machines call {integration!r}, which infra/iam.py has no policy for: add one to "
        "integration_statements (least privilege, scoped to this stage's resources)")


def pass_role_to_sagemaker() -> Json:
    return allow(["iam:PassRole"], get_att(SAGEMAKER_ROLE_ID, "Arn"),
                 condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}})


def state_machine_role(settings: DeploySettings, bootstrap: BootstrapOutputs,
                       definitions: dict[str, dict[str, Any]], pipeline_jobs: dict[str, tuple[str, ...]],
                       alert_topic: Any) -> Json:
    """One role for the pipelines' state machines; its statements are derived from their Task states."""
    statements: list[Json] = []
    # One role runs every pipeline, so one statement per integration covers the jobs of all of them.
    all_jobs = sorted({job for jobs in pipeline_jobs.values() for job in jobs})
    for _pipeline, definition in sorted(definitions.items()):
        for resource_arn in sorted(asl.task_resources(definition)):
            for item in integration_statements(settings, asl.integration_of(resource_arn),
                                               asl.is_sync(resource_arn), all_jobs, alert_topic,
                                               bootstrap.artifacts_bucket):
                if item not in statements:
                    statements.append(item)
    statements += [
        allow(["kms:Decrypt", "kms:GenerateDataKey"], bootstrap.kms_key_arn),  # the encrypted alert topic
        # Log delivery and X-Ray APIs have no resource-level permissions (AWS documents "*").
        allow(["logs:CreateLogDelivery", "logs:DeleteLogDelivery", "logs:DescribeLogGroups",
               "logs:DescribeResourcePolicies", "logs:GetLogDelivery", "logs:ListLogDeliveries",
               "logs:PutResourcePolicy", "logs:UpdateLogDelivery"], "*"),
        allow(["xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords",
               "xray:PutTraceSegments"], "*"),
    ]
    return role(settings, STATE_MACHINE_ROLE_ID, "Runs the lakehouse Step Functions pipelines.",
                service_trust("states.amazonaws.com", condition=same_account_condition()), statements)


def eventbridge_role(settings: DeploySettings, state_machine_ids: Iterable[str]) -> Json:
    statements = [allow(["states:StartExecution"], [{"Ref": logical_id} for logical_id in state_machine_ids])]
    return role(settings, EVENTBRIDGE_ROLE_ID, "Lets the EventBridge schedules start the pipelines.",
                service_trust("events.amazonaws.com", condition=same_account_condition()), statements)


# -- RBAC -------------------------------------------------------------------------------------------
def data_scientist_role(settings: DeploySettings, bootstrap: BootstrapOutputs, dr: DrOutputs | None = None) -> Json:
    """SageMaker full access, read/write silver and gold, catalog read; no IAM or network changes."""
    silver, gold, bronze = (settings.bucket_name(layer) for layer in ("silver", "gold", "bronze"))
    other_roles = [role_arn(settings, logical_id) for logical_id in ROLE_NAME_SUFFIXES
                   if logical_id != SAGEMAKER_ROLE_ID]
    statements = [
        s3_list(silver, gold),
        s3_objects(S3_READ + S3_WRITE, silver),
        s3_objects(S3_READ + S3_WRITE, gold),
        kms_via_s3(bootstrap.kms_key_arn, write=True),
        catalog_read(settings, dr=dr),
        *replica_read(dr),
        deny(["s3:*"], [s3_arn(bronze), s3_arn(bronze, "*")], sid="NoRawData"),
        deny(IAM_MUTATIONS, "*", sid="NoIamChanges"),
        deny(NETWORK_MUTATIONS, "*", sid="NoNetworkChanges"),
        # SageMaker full access may pass roles to SageMaker: never the pipeline or RBAC roles.
        deny(["iam:PassRole"], other_roles, sid="NoPassingPipelineRoles"),
    ]
    return role(settings, DATA_SCIENTIST_ROLE_ID, "Data scientists: SageMaker, silver and gold.",
                human_trust(), statements, managed_policies=[sub(SAGEMAKER_FULL_ACCESS)])


def app_developer_role(settings: DeploySettings, bootstrap: BootstrapOutputs, dr: DrOutputs | None = None) -> Json:
    """Read-only gold, gold tables in the catalog, read the online features, invoke the stage's endpoints;
    nothing else."""
    gold = settings.bucket_name("gold")
    raw_layers = [settings.bucket_name("bronze"), settings.bucket_name("silver")]
    statements = [
        s3_list(gold),
        s3_objects(S3_READ, gold),
        kms_via_s3(bootstrap.kms_key_arn, write=False),
        catalog_read(settings, catalog_table_name("gold", "*"), dr),
        *replica_read(dr),
        allow(["sagemaker:InvokeEndpoint"], arn("sagemaker", f"endpoint/{settings.name('')}*")),
        allow(ONLINE_READ, online_table_arn(settings)),  # online features: look-ups only
        kms_via("dynamodb", bootstrap.kms_key_arn, write=False),
        deny(["s3:*"], [item for name in raw_layers for item in (s3_arn(name), s3_arn(name, "*"))],
             sid="NoBronzeOrSilver"),
    ]
    return role(settings, APP_DEVELOPER_ROLE_ID, "Application developers: read gold, invoke endpoints.",
                human_trust(), statements)


def data_engineer_role(settings: DeploySettings, bootstrap: BootstrapOutputs, job_names: Iterable[str],
                       dr: DrOutputs | None = None) -> Json:
    """Runs and repairs ingestion by hand: every layer read/write (the quarantine read-only), the
    catalog, the stage's Glue jobs and state machines, run records, gold's replica (DR restore)."""
    bronze, silver, gold = (settings.bucket_name(layer) for layer in ("bronze", "silver", "gold"))
    artifacts = bootstrap.artifacts_bucket
    machines = settings.name("*")
    statements = [
        s3_list(bronze, silver, gold, artifacts),
        s3_objects(S3_READ + S3_WRITE, bronze),
        s3_objects(S3_READ + S3_WRITE, silver),
        s3_objects(S3_READ + S3_WRITE, gold),
        s3_objects(S3_READ, artifacts, [OPS_PREFIX]),
        kms_via_s3(bootstrap.kms_key_arn, write=True),
        catalog_read(settings, dr=dr),
        allow(CATALOG_WRITE, catalog_arns(settings) + (catalog_arns(settings, region=dr.region) if dr else [])),
        # `lakehouse dr restore` creates the DR database and, run again, re-points its table entries
        # (drop + register: Glue's drop removes the entry only). Never in the primary's catalog.
        *([allow(["glue:CreateDatabase", "glue:DeleteTable"], catalog_arns(settings, region=dr.region))]
          if dr else []),
        *replica_read(dr, write=True),
        allow(["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"],
              glue_job_arns(settings, job_names)),
        allow(["states:StartExecution", "states:DescribeStateMachine", "states:ListExecutions"],
              arn("states", f"stateMachine:{machines}")),
        allow(["states:DescribeExecution", "states:GetExecutionHistory", "states:StopExecution"],
              arn("states", f"execution:{machines}:*")),
        # The quarantine holds refused rows as evidence: readable, never rewritten by hand.
        deny(S3_WRITE, s3_arn(bronze, f"{QUARANTINE_PREFIX}*"), sid="QuarantineIsReadOnly"),
        deny(IAM_MUTATIONS, "*", sid="NoIamChanges"),
        deny(NETWORK_MUTATIONS, "*", sid="NoNetworkChanges"),
    ]
    return role(settings, DATA_ENGINEER_ROLE_ID, "Data engineers: run and repair ingestion; every layer.",
                human_trust(), statements)
