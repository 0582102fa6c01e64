"""Assemble the two CloudFormation templates from the pipeline registry and the deploy settings.

- the bootstrap template: the KMS key, the logs bucket and the artifacts bucket, which must exist
  before anything can be uploaded;
- the main template: the lake buckets, Glue, IAM, state machines, schedules, alerts.

Both are plain JSON-ready dictionaries; cost tags are applied to every resource type that takes tags,
and the security scanner's accepted findings are written into each resource's Metadata.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infra import dr, glue, iam, monitoring, online_store, orchestration, storage
from infra.cfn import Json, get_att, ref, tag_list
from infra.packaging import ArtifactSet
from infra.settings import DeploySettings
from infra.storage import BootstrapOutputs, DrOutputs
from infra.suppressions import suppression_metadata
from pipelines.asl import PLACEHOLDER
from pipelines.registry import GLUE_JOBS, PIPELINES, REPO_ROOT, GlueJobSpec, PipelineSpec

# Resource types whose `Tags` is a list of {Key, Value}; AWS::Glue::Job takes a map instead.
LIST_TAGGED_TYPES = frozenset({
    "AWS::KMS::Key", "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::SNS::Topic", "AWS::Logs::LogGroup",
    "AWS::StepFunctions::StateMachine", "AWS::Events::Rule", "AWS::SecretsManager::Secret",
    "AWS::CloudWatch::Alarm", "AWS::CloudTrail::Trail", "AWS::CloudWatch::Dashboard", "AWS::DynamoDB::Table",
})
MAP_TAGGED_TYPES = frozenset({"AWS::Glue::Job"})


def apply_cost_tags(resources: dict[str, Json], tags: Mapping[str, str]) -> None:
    for body in resources.values():
        if body["Type"] in LIST_TAGGED_TYPES:
            body["Properties"]["Tags"] = tag_list(tags)
        elif body["Type"] in MAP_TAGGED_TYPES:
            body["Properties"]["Tags"] = dict(sorted(tags.items()))


def apply_suppressions(resources: dict[str, Json]) -> None:
    for logical_id, body in resources.items():
        metadata = suppression_metadata(logical_id)
        if metadata:
            body.setdefault("Metadata", {}).update(metadata)


def _template(description: str, resources: dict[str, Json], outputs: dict[str, Json],
              settings: DeploySettings) -> Json:
    apply_cost_tags(resources, settings.cost_tags())
    apply_suppressions(resources)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Metadata": {"GeneratedBy": "infra.template (lakehouse)", "Stage": settings.stage},
        "Resources": resources,
        "Outputs": {name: {"Description": body.pop("Description"), **body} for name, body in outputs.items()},
    }


def _output(description: str, value: Any) -> Json:
    return {"Description": description, "Value": value}


def bootstrap_template(settings: DeploySettings) -> Json:
    outputs = {
        "KmsKeyArn": _output("Customer-managed key for the lake, artifacts, logs and alerts",
                             get_att(storage.KMS_KEY_ID, "Arn")),
        "ArtifactsBucketName": _output("Artifacts bucket (wheels, scripts, contracts, suites)",
                                       ref(storage.ARTIFACTS_BUCKET_ID)),
        "LogsBucketName": _output("S3 server access logs bucket", ref(storage.LOGS_BUCKET_ID)),
    }
    return _template(f"{settings.prefix} {settings.stage} bootstrap: KMS key, artifacts and logs buckets",
                     storage.bootstrap_resources(settings), outputs, settings)


def dr_template(settings: DeploySettings) -> Json:
    """The DR region's stack: gold's replica bucket, its own key, its access-logs bucket."""
    outputs = {
        "DrKmsKeyArn": _output("Customer-managed key of gold's replica", get_att(dr.DR_KEY_ID, "Arn")),
        "DrGoldBucketName": _output("Gold's replica (S3 replication target)", ref(dr.DR_GOLD_BUCKET_ID)),
    }
    return _template(f"{settings.prefix} {settings.stage} disaster recovery: gold's replica in {settings.dr_region}",
                     dr.dr_resources(settings), outputs, settings)


def read_definitions(pipelines: Mapping[str, PipelineSpec]) -> dict[str, str]:
    return {name: Path(spec.definition_path).read_text(encoding="utf-8") for name, spec in pipelines.items()}


def dataset_names(repo_root: Path = REPO_ROOT) -> list[str]:
    """Datasets are declared by their contracts: one `contracts/<dataset>.yaml` each."""
    return sorted(path.stem for path in (repo_root / "contracts").glob("*.yaml"))


def main_template(settings: DeploySettings, bootstrap: BootstrapOutputs, artifacts: ArtifactSet,
                  glue_jobs: Mapping[str, GlueJobSpec] = GLUE_JOBS,
                  pipelines: Mapping[str, PipelineSpec] = PIPELINES,
                  datasets: list[str] | None = None, dr_outputs: DrOutputs | None = None) -> Json:
    """`dr_outputs` (the DR stack's key and bucket) adds gold's replication; None leaves it out."""
    definitions = read_definitions(pipelines)
    datasets = dataset_names() if datasets is None else datasets
    parsed = {name: json.loads(text) for name, text in definitions.items()}
    alert_topic = ref(orchestration.ALERT_TOPIC_ID)
    machine_ids = [orchestration.state_machine_id(name) for name in sorted(pipelines)]
    resources: dict[str, Json] = {
        **storage.layer_resources(settings, bootstrap),
        online_store.ONLINE_TABLE_ID: online_store.online_table(settings, bootstrap),
        **glue.glue_resources(settings, bootstrap, artifacts, glue_jobs),
        iam.GLUE_JOB_ROLE_ID: iam.glue_job_role(settings, bootstrap),
        iam.STATE_MACHINE_ROLE_ID: iam.state_machine_role(
            settings, bootstrap, parsed, {name: spec.glue_jobs for name, spec in pipelines.items()},
            alert_topic),
        iam.EVENTBRIDGE_ROLE_ID: iam.eventbridge_role(settings, machine_ids),
        iam.SAGEMAKER_ROLE_ID: iam.sagemaker_execution_role(settings, bootstrap),
        iam.DATA_SCIENTIST_ROLE_ID: iam.data_scientist_role(settings, bootstrap, dr_outputs),
        iam.APP_DEVELOPER_ROLE_ID: iam.app_developer_role(settings, bootstrap, dr_outputs),
        iam.DATA_ENGINEER_ROLE_ID: iam.data_engineer_role(settings, bootstrap, glue_jobs, dr_outputs),
        **orchestration.orchestration_resources(settings, bootstrap, pipelines, definitions, glue_jobs, datasets,
                                                artifacts.ml_source.key if artifacts.ml_source else None),
        **monitoring.monitoring_resources(settings, bootstrap, pipelines, datasets),
    }
    if dr_outputs is not None:
        resources[iam.REPLICATION_ROLE_ID] = dr.replication_role(settings, bootstrap.kms_key_arn, dr_outputs)
        gold = resources[storage.LAYER_BUCKET_IDS["gold"]]["Properties"]
        gold["ReplicationConfiguration"] = dr.replication_configuration(settings, dr_outputs)
    outputs: dict[str, Json] = {
        f"{layer.capitalize()}BucketName": _output(f"{layer} layer bucket", ref(logical_id))
        for layer, logical_id in storage.LAYER_BUCKET_IDS.items()
    }
    outputs.update({
        "GlueDatabaseName": _output("Glue Data Catalog database", ref(glue.GLUE_DATABASE_ID)),
        "AlertTopicArn": _output("SNS topic for pipeline alerts", alert_topic),
        "OnlineFeaturesTableName": _output("DynamoDB online feature store (customer_features by customer_id)",
                                           ref(online_store.ONLINE_TABLE_ID)),
        **{f"{role_id}Arn": _output(f"{role_id} ARN", get_att(role_id, "Arn"))
           for role_id in (iam.GLUE_JOB_ROLE_ID, iam.STATE_MACHINE_ROLE_ID, iam.EVENTBRIDGE_ROLE_ID,
                           iam.SAGEMAKER_ROLE_ID, iam.DATA_SCIENTIST_ROLE_ID, iam.APP_DEVELOPER_ROLE_ID,
                           iam.DATA_ENGINEER_ROLE_ID)},
        "PipelineHealthDashboardName": _output("CloudWatch dashboard of pipeline health",
                                               ref(monitoring.DASHBOARD_ID)),
        **{f"{machine_id}Arn": _output(f"state machine of pipeline {name}", ref(machine_id))
           for name, machine_id in zip(sorted(pipelines), machine_ids, strict=True)},
        **{f"{glue.job_logical_id(name)}Name": _output(f"Glue job {name}", ref(glue.job_logical_id(name)))
           for name in sorted(glue_jobs)},
    })
    return _template(f"{settings.prefix} {settings.stage}: medallion lakehouse (buckets, Glue, IAM, "
                     "Step Functions, schedules, alerts)", resources, outputs, settings)


def _sorted_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted_keys(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted_keys(item) for item in value]
    return value


def references(value: Any, logical_ids: set[str]) -> set[str]:
    """Logical ids a resource refers to through Ref, Fn::GetAtt, Fn::Sub or DependsOn."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0] if isinstance(item, list) else item.split(".")[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found.update(name.split(".")[0] for name in PLACEHOLDER.findall(text))
            elif key == "DependsOn":
                found.update([item] if isinstance(item, str) else item)
            found |= references(item, logical_ids)
    elif isinstance(value, list):
        for item in value:
            found |= references(item, logical_ids)
    return found & logical_ids


def dependency_order(resources: Mapping[str, Json]) -> list[str]:
    """Logical ids, every resource after those it refers to (ties alphabetical).

    CloudFormation does not need this, but moto creates resources in template order and resolves
    Fn::GetAtt only against resources created before.
    """
    ids = set(resources)
    pending = {logical_id: references(body, ids) - {logical_id} for logical_id, body in resources.items()}
    ordered: list[str] = []
    while pending:
        ready = sorted(logical_id for logical_id, needs in pending.items() if not needs - set(ordered))
        if not ready:
            raise ValueError(f"circular references between {', '.join(sorted(pending))}")
        ordered.extend(ready)
        for logical_id in ready:
            del pending[logical_id]
    return ordered


def to_json(template: Json) -> str:
    """Deterministic serialisation: the same inputs give the same bytes (and the same change set)."""
    canonical = _sorted_keys(template)
    resources = canonical["Resources"]
    canonical["Resources"] = {logical_id: resources[logical_id] for logical_id in dependency_order(resources)}
    return json.dumps(canonical, indent=1)
