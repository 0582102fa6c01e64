"""State machines from `state_machines/`, their schedules, the alert topic and the alarms.

Definitions are deployed exactly as checked in; the `${Placeholder}`s are resolved by CloudFormation
through `DefinitionSubstitutions`: job placeholders from the pipeline registry, infrastructure ones
(`AlertTopicArn`, ...) from this stack. A placeholder nobody provides stops the build.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infra.cfn import Json, get_att, policy_document, ref, resource, same_account_condition, statement
from infra.iam import EVENTBRIDGE_ROLE_ID, SAGEMAKER_ROLE_ID, STATE_MACHINE_ROLE_ID
from infra.settings import DeploySettings
from infra.storage import BootstrapOutputs
from jobs.contracts import promotion_waves
from pipelines import asl
from pipelines.asl import UnresolvedPlaceholderError
from pipelines.deploy_placeholders import DeployValues
from pipelines.registry import GlueJobSpec, PipelineSpec

ALERT_TOPIC_ID = "AlertTopic"
GLUE_FAILURE_RULE_ID = "GlueJobFailureRule"
ALARM_PERIOD_SECONDS = 300


def camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").split("_"))


def state_machine_id(pipeline: str) -> str:
    return f"StateMachine{camel(pipeline)}"


def infrastructure_substitutions(settings: DeploySettings, bootstrap: BootstrapOutputs,
                                 ml_source_key: str | None = None) -> dict[str, Any]:
    """Placeholders any definition may use besides its Glue job names."""
    return DeployValues(
        alert_topic_arn=ref(ALERT_TOPIC_ID),
        sagemaker_execution_role_arn=get_att(SAGEMAKER_ROLE_ID, "Arn"),
        artifacts_bucket=bootstrap.artifacts_bucket,
        sagemaker_source_uri=None if ml_source_key is None else f"s3://{bootstrap.artifacts_bucket}/{ml_source_key}",
        bronze_bucket=settings.bucket_name("bronze"),
        silver_bucket=settings.bucket_name("silver"),
        gold_bucket=settings.bucket_name("gold"),
        glue_database=settings.glue_database,
        stage=settings.stage,
        name_prefix=settings.name(""),
        sklearn_image_uri=settings.sklearn_image_uri(),
    ).substitutions()


def substitutions(settings: DeploySettings, bootstrap: BootstrapOutputs, pipeline: PipelineSpec,
                  definition: dict[str, Any], glue_jobs: Mapping[str, GlueJobSpec],
                  ml_source_key: str | None = None) -> dict[str, Any]:
    """Only the placeholders the definition uses (CloudFormation rejects none, but keep it exact)."""
    available = infrastructure_substitutions(settings, bootstrap, ml_source_key)
    for placeholder, job_name in pipeline.placeholders.items():
        if job_name not in glue_jobs:
            raise UnresolvedPlaceholderError(
                [placeholder], f"pipeline {pipeline.name!r} maps ${{{placeholder}}} to unknown Glue job {job_name!r}")
        available[placeholder] = settings.glue_job_name(job_name)
    used = asl.placeholders(definition)
    missing = sorted(used - set(available))
    if missing:
        raise UnresolvedPlaceholderError(
            missing, f"{pipeline.definition_file} uses {', '.join('${' + m + '}' for m in missing)}, which neither "
            f"the registry's placeholders for {pipeline.name!r} nor the stack provide "
            f"(stack provides: {', '.join(sorted(available))})")
    return {name: available[name] for name in sorted(used)}


def log_group(settings: DeploySettings, bootstrap: BootstrapOutputs, pipeline: str) -> Json:
    return resource("AWS::Logs::LogGroup", {
        "LogGroupName": f"/aws/vendedlogs/states/{settings.state_machine_name(pipeline)}",
        "RetentionInDays": settings.profile.log_retention_days,
        "KmsKeyId": bootstrap.kms_key_arn,
    })


def state_machine(settings: DeploySettings, bootstrap: BootstrapOutputs, pipeline: PipelineSpec,
                  definition_text: str, glue_jobs: Mapping[str, GlueJobSpec], ml_source_key: str | None = None
                  ) -> Json:
    definition = json.loads(definition_text)
    return resource("AWS::StepFunctions::StateMachine", {
        "StateMachineName": settings.state_machine_name(pipeline.name),
        "StateMachineType": "STANDARD",
        "RoleArn": get_att(STATE_MACHINE_ROLE_ID, "Arn"),
        # The checked-in file as is, in the string form (the one moto also reads).
        "DefinitionString": definition_text,
        "DefinitionSubstitutions": substitutions(settings, bootstrap, pipeline, definition, glue_jobs,
                                                 ml_source_key),
        "LoggingConfiguration": {
            "Level": "ALL",
            "IncludeExecutionData": True,
            "Destinations": [{"CloudWatchLogsLogGroup": {
                "LogGroupArn": get_att(f"{state_machine_id(pipeline.name)}Logs", "Arn")}}],
        },
        "TracingConfiguration": {"Enabled": True},
    })


def schedule_input(pipeline: PipelineSpec, datasets: list[str]) -> Json:
    """EventBridge passes the scheduled time; the definition derives its run date from it."""
    template = ('{"trigger": "schedule", "pipeline": "' + pipeline.name + '", "scheduled_time": <time>, '
                '"run_id": "scheduled-<id>", "datasets": ' + json.dumps(datasets) + ', "dataset_waves": '
                + json.dumps(promotion_waves(datasets)) + "}")
    return {"InputPathsMap": {"time": "$.time", "id": "$.id"}, "InputTemplate": template}


def trigger_input(pipeline: PipelineSpec) -> Json:
    """The upstream execution's output (a JSON string) and name; the definition reads its run date there."""
    template = ('{"trigger": "after-' + str(pipeline.triggered_by) + '", "pipeline": "' + pipeline.name + '", '
                '"upstream_execution": <name>, "upstream_output": <output>}')
    return {"InputPathsMap": {"name": "$.detail.name", "output": "$.detail.output"}, "InputTemplate": template}


def upstream_succeeded_pattern(pipeline: PipelineSpec) -> Json:
    return {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["SUCCEEDED"], "stateMachineArn": [ref(state_machine_id(str(pipeline.triggered_by)))]},
    }


def schedule(settings: DeploySettings, pipeline: PipelineSpec, datasets: list[str]) -> Json:
    """The rule that starts the pipeline: its cron schedule, or its upstream pipeline's success."""
    if pipeline.triggered_by is not None:
        start = {"EventPattern": upstream_succeeded_pattern(pipeline)}
        transformer = trigger_input(pipeline)
        description = f"Starts the {pipeline.name} pipeline after each successful {pipeline.triggered_by} run"
    else:
        start = {"ScheduleExpression": pipeline.schedule}
        transformer = schedule_input(pipeline, datasets)
        description = f"Starts the {pipeline.name} pipeline"
    return resource("AWS::Events::Rule", {
        "Name": settings.name(f"{pipeline.name}-schedule"),
        "Description": f"{description}: {pipeline.description}"[:512],
        **start,
        "State": "ENABLED" if settings.profile.schedules_enabled else "DISABLED",
        "Targets": [{
            "Id": "pipeline",
            "Arn": ref(state_machine_id(pipeline.name)),
            "RoleArn": get_att(EVENTBRIDGE_ROLE_ID, "Arn"),
            "InputTransformer": transformer,
        }],
    })


def alert_topic(settings: DeploySettings, bootstrap: BootstrapOutputs) -> Json:
    return resource("AWS::SNS::Topic", {
        "TopicName": settings.name("alerts"),
        "DisplayName": f"{settings.prefix} {settings.stage} alerts",
        "KmsMasterKeyId": bootstrap.kms_key_arn,
    })


def alert_topic_policy() -> Json:
    """CloudWatch alarms and the Glue-failure rule publish here, only for this account."""
    publishers = statement("Allow", ["sns:Publish"], ref(ALERT_TOPIC_ID), sid="AlarmsAndEventsPublish",
                           principal={"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                           condition=same_account_condition())
    plain_http = statement("Deny", ["sns:Publish"], ref(ALERT_TOPIC_ID), sid="DenyPublishWithoutTls",
                           principal="*", condition={"Bool": {"aws:SecureTransport": "false"}})
    return resource("AWS::SNS::TopicPolicy", {
        "Topics": [ref(ALERT_TOPIC_ID)],
        "PolicyDocument": policy_document([publishers, plain_http]),
    })


def glue_failure_rule(settings: DeploySettings, glue_jobs: Mapping[str, GlueJobSpec]) -> Json:
    """Every failed, timed-out or errored run of this stage's jobs, straight to the alert topic."""
    return resource("AWS::Events::Rule", {
        "Name": settings.name("glue-job-failures"),
        "Description": "Glue job runs of this stage that failed, timed out or errored.",
        "EventPattern": {
            "source": ["aws.glue"],
            "detail-type": ["Glue Job State Change"],
            "detail": {"jobName": [settings.glue_job_name(name) for name in sorted(glue_jobs)],
                       "state": ["FAILED", "TIMEOUT", "ERROR"]},
        },
        "State": "ENABLED",
        "Targets": [{"Id": "alerts", "Arn": ref(ALERT_TOPIC_ID)}],
    })


def _alarm(name: str, description: str, metrics: list[Json]) -> Json:
    return resource("AWS::CloudWatch::Alarm", {
        "AlarmName": name,
        "AlarmDescription": description,
        "Metrics": metrics,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "Threshold": 1,
        "EvaluationPeriods": 1,
        "TreatMissingData": "notBreaching",
        "AlarmActions": [ref(ALERT_TOPIC_ID)],
    })


def _metric(metric_id: str, namespace: str, metric: str, dimensions: list[Json], *, returned: bool) -> Json:
    return {"Id": metric_id, "ReturnData": returned, "MetricStat": {
        "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
        "Period": ALARM_PERIOD_SECONDS, "Stat": "Sum"}}


def failed_executions_alarm(settings: DeploySettings, pipeline: str) -> Json:
    dimensions = [{"Name": "StateMachineArn", "Value": ref(state_machine_id(pipeline))}]
    return _alarm(settings.name(f"{pipeline}-failed-executions"),
                  f"{pipeline} executions that failed, timed out or were aborted.", [
                      _metric("failed", "AWS/States", "ExecutionsFailed", dimensions, returned=False),
                      _metric("timedout", "AWS/States", "ExecutionsTimedOut", dimensions, returned=False),
                      _metric("aborted", "AWS/States", "ExecutionsAborted", dimensions, returned=False),
                      {"Id": "unsuccessful", "Expression": "failed + timedout + aborted",
                       "Label": "Unsuccessful executions", "ReturnData": True},
                  ])


def failed_glue_runs_alarm(settings: DeploySettings) -> Json:
    """Glue publishes no per-run failure metric; the failure rule's match count is one."""
    dimensions = [{"Name": "RuleName", "Value": ref(GLUE_FAILURE_RULE_ID)}]
    return _alarm(settings.name("glue-failed-runs"), "Glue job runs of this stage that did not succeed.",
                  [_metric("failedruns", "AWS/Events", "TriggeredRules", dimensions, returned=True)])


def orchestration_resources(settings: DeploySettings, bootstrap: BootstrapOutputs,
                            pipelines: Mapping[str, PipelineSpec], definitions: Mapping[str, str],
                            glue_jobs: Mapping[str, GlueJobSpec], datasets: list[str],
                            ml_source_key: str | None = None) -> dict[str, Json]:
    resources: dict[str, Json] = {
        ALERT_TOPIC_ID: alert_topic(settings, bootstrap),
        "AlertTopicPolicy": alert_topic_policy(),
        GLUE_FAILURE_RULE_ID: glue_failure_rule(settings, glue_jobs),
        "GlueFailedRunsAlarm": failed_glue_runs_alarm(settings),
    }
    for name, pipeline in sorted(pipelines.items()):
        machine_id = state_machine_id(name)
        resources[f"{machine_id}Logs"] = log_group(settings, bootstrap, name)
        resources[machine_id] = state_machine(settings, bootstrap, pipeline, definitions[name], glue_jobs,
                                              ml_source_key)
        resources[f"{machine_id}Schedule"] = schedule(settings, pipeline, datasets)
        resources[f"{machine_id}FailedAlarm"] = failed_executions_alarm(settings, name)
    return resources
