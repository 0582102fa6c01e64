"""Pipeline health and audit: alarms and a dashboard on the metrics each run publishes, and the
CloudTrail trail recording data access to the audited layers.

The metric names and dimensions come from `jobs.run_metrics` (what `finalize_run` publishes), so an
alarm can only watch a metric the jobs really send; tests/test_governance.py checks both ends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from infra.cfn import Json, ref, resource, s3_arn
from infra.orchestration import ALERT_TOPIC_ID
from infra.settings import DeploySettings
from infra.storage import CLOUDTRAIL_PREFIX, BootstrapOutputs
from jobs import run_metrics as rm
from pipelines.registry import PipelineSpec

RUN_ALARM_PERIOD_SECONDS = 300
DAY_SECONDS = 86_400
TRAIL_ID = "DataAccessTrail"
DASHBOARD_ID = "PipelineHealthDashboard"


def run_dimensions(pipeline: str, scope: str = rm.RUN_SCOPE) -> list[Json]:
    return [{"Name": rm.PIPELINE_DIMENSION, "Value": pipeline}, {"Name": rm.DATASET_DIMENSION, "Value": scope}]


def _stat(metric_id: str, metric: str, pipeline: str, period: int, *, returned: bool) -> Json:
    return {"Id": metric_id, "ReturnData": returned, "MetricStat": {
        "Metric": {"Namespace": rm.NAMESPACE, "MetricName": metric, "Dimensions": run_dimensions(pipeline)},
        "Period": period, "Stat": "Sum"}}


def _alarm(name: str, description: str, metrics: list[Json], *, comparison: str, threshold: int,
           missing: str) -> Json:
    return resource("AWS::CloudWatch::Alarm", {
        "AlarmName": name, "AlarmDescription": description, "Metrics": metrics,
        "ComparisonOperator": comparison, "Threshold": threshold, "EvaluationPeriods": 1,
        "TreatMissingData": missing, "AlarmActions": [ref(ALERT_TOPIC_ID)],
    })


def run_failed_alarm(settings: DeploySettings, pipeline: str) -> Json:
    return _alarm(settings.name(f"{pipeline}-run-failed"), f"A {pipeline} run finished FAILED (finalize_run).",
                  [_stat("failed", rm.RUN_FAILED, pipeline, RUN_ALARM_PERIOD_SECONDS, returned=True)],
                  comparison="GreaterThanOrEqualToThreshold", threshold=1, missing="notBreaching")


def no_successful_run_alarm(settings: DeploySettings, pipeline: str) -> Json:
    """A scheduled pipeline with no successful run in a day: missing data (no run at all) breaches."""
    return _alarm(settings.name(f"{pipeline}-no-successful-run"),
                  f"No successful {pipeline} run within a day of its schedule.",
                  [_stat("succeeded", rm.RUN_SUCCEEDED, pipeline, DAY_SECONDS, returned=True)],
                  comparison="LessThanThreshold", threshold=1, missing="breaching")


def quarantine_share_alarm(settings: DeploySettings, pipeline: str) -> Json:
    percent = settings.quarantine_alarm_percent
    return _alarm(settings.name(f"{pipeline}-quarantine-share"),
                  f"A {pipeline} run quarantined at least {percent}% of its bronze rows.", [
                      _stat("quarantined", rm.QUARANTINED_ROWS, pipeline, RUN_ALARM_PERIOD_SECONDS, returned=False),
                      _stat("bronze", rm.BRONZE_ROWS, pipeline, RUN_ALARM_PERIOD_SECONDS, returned=False),
                      {"Id": "percent", "Expression": "IF(bronze > 0, 100 * quarantined / bronze, 0)",
                       "Label": "Quarantined % of bronze rows", "ReturnData": True},
                  ], comparison="GreaterThanOrEqualToThreshold", threshold=percent, missing="notBreaching")


def ingests(pipeline: PipelineSpec) -> bool:
    """Pipelines that promote bronze publish the row counts the quarantine alarm divides."""
    return "bronze_to_silver" in pipeline.glue_jobs


def alarm_resources(settings: DeploySettings, pipelines: Mapping[str, PipelineSpec]) -> dict[str, Json]:
    from infra.orchestration import camel

    resources: dict[str, Json] = {}
    for name, spec in sorted(pipelines.items()):
        resources[f"{camel(name)}RunFailedAlarm"] = run_failed_alarm(settings, name)
        if spec.schedule:
            resources[f"{camel(name)}NoSuccessfulRunAlarm"] = no_successful_run_alarm(settings, name)
        if ingests(spec):
            resources[f"{camel(name)}QuarantineShareAlarm"] = quarantine_share_alarm(settings, name)
    return resources


# -- dashboard ---------------------------------------------------------------------------------------
def _line(metric: str, pipeline: str, scope: str = rm.RUN_SCOPE, stat: str = "Sum") -> list[Any]:
    return [rm.NAMESPACE, metric, rm.PIPELINE_DIMENSION, pipeline, rm.DATASET_DIMENSION, scope, {"stat": stat}]


def _widget(title: str, metrics: list[list[Any]], region: str, x: int, y: int, *, width: int = 8) -> Json:
    return {"type": "metric", "x": x, "y": y, "width": width, "height": 6,
            "properties": {"title": title, "region": region, "view": "timeSeries", "stacked": False,
                           "period": RUN_ALARM_PERIOD_SECONDS, "metrics": metrics}}


def _search(metric: str, stat: str = "Sum") -> str:
    return (f"SEARCH('{{{rm.NAMESPACE},{rm.PIPELINE_DIMENSION},{rm.DATASET_DIMENSION}}} "
            f"MetricName=\"{metric}\"', '{stat}', {RUN_ALARM_PERIOD_SECONDS})")


def dashboard_body(settings: DeploySettings, pipelines: Mapping[str, PipelineSpec], alarm_names: Iterable[str],
                   datasets: list[str]) -> Json:
    """One row per pipeline (outcome, duration, rows in/out), the quarantine per dataset, the
    quality gates (a search: every suite), the gold rows written, and the alarms' states."""
    region = settings.region
    widgets: list[Json] = []
    y = 0
    for name, spec in sorted(pipelines.items()):
        widgets.append(_widget(f"{name}: runs", [_line(rm.RUN_SUCCEEDED, name), _line(rm.RUN_FAILED, name)],
                               region, 0, y))
        widgets.append(_widget(f"{name}: duration (s)", [_line(rm.RUN_DURATION, name, stat="Maximum")],
                               region, 8, y))
        if ingests(spec):
            widgets.append(_widget(f"{name}: rows in / out", [_line(metric, name) for metric in rm.COUNT_METRICS],
                                   region, 16, y))
            y += 6
            widgets.append(_widget(f"{name}: quarantined rows per dataset",
                                   [_line(rm.QUARANTINED_ROWS, name, dataset) for dataset in datasets],
                                   region, 0, y, width=12))
        y += 6
    widgets.append(_widget("Quality gates failed (every suite)", [[{"expression": _search(rm.GATE_FAILED),
                                                                     "id": "gates"}]], region, 0, y, width=12))
    widgets.append(_widget("Gold rows written (every table)", [[{"expression": _search(rm.GOLD_ROWS),
                                                                 "id": "gold"}]], region, 12, y, width=12))
    y += 6
    alarm_arns = [f"arn:aws:cloudwatch:{region}:{settings.account}:alarm:{alarm}" for alarm in sorted(alarm_names)]
    widgets.append({"type": "alarm", "x": 0, "y": y, "width": 24, "height": 4,
                    "properties": {"title": "Pipeline alarms", "alarms": alarm_arns}})
    return {"widgets": widgets}


def dashboard(settings: DeploySettings, pipelines: Mapping[str, PipelineSpec], alarms: Mapping[str, Json],
              datasets: list[str]) -> Json:
    names = [body["Properties"]["AlarmName"] for body in alarms.values()]
    return resource("AWS::CloudWatch::Dashboard", {
        "DashboardName": settings.name("pipeline-health"),
        "DashboardBody": json.dumps(dashboard_body(settings, pipelines, names, datasets), sort_keys=True),
    })


def dashboard_metric_names(body: Json) -> set[str]:
    """Every metric name a dashboard body plots, from metric lines and SEARCH expressions."""
    found: set[str] = set()
    for widget in body["widgets"]:
        for line in widget.get("properties", {}).get("metrics", []):
            if line and isinstance(line[0], dict) and "expression" in line[0]:
                expression = line[0]["expression"]
                found.add(expression.split('MetricName="', 1)[1].split('"', 1)[0])
            elif len(line) > 1:
                found.add(line[1])
    return found


# -- audit ------------------------------------------------------------------------------------------
def data_access_trail(settings: DeploySettings, bootstrap: BootstrapOutputs) -> Json:
    """CloudTrail data events (object reads and writes) on the audited layers' buckets."""
    return resource("AWS::CloudTrail::Trail", {
        "TrailName": settings.name("data-access"),
        "IsLogging": True,
        "S3BucketName": bootstrap.logs_bucket,
        "S3KeyPrefix": CLOUDTRAIL_PREFIX,
        "KMSKeyId": bootstrap.kms_key_arn,
        "EnableLogFileValidation": True,
        "IsMultiRegionTrail": True,
        "IncludeGlobalServiceEvents": True,
        "EventSelectors": [{
            "ReadWriteType": "All",
            "IncludeManagementEvents": False,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": [
                s3_arn(settings.bucket_name(layer), "") for layer in settings.audited_layers]}],
        }],
    })


def monitoring_resources(settings: DeploySettings, bootstrap: BootstrapOutputs,
                         pipelines: Mapping[str, PipelineSpec], datasets: list[str]) -> dict[str, Json]:
    alarms = alarm_resources(settings, pipelines)
    resources = {**alarms, DASHBOARD_ID: dashboard(settings, pipelines, alarms, datasets)}
    if settings.audited_layers:
        resources[TRAIL_ID] = data_access_trail(settings, bootstrap)
    return resources
