"""Governance offline (no Spark, no server): retention of raw files, gold's replication and the DR
stack, the Data Engineer role, CloudTrail data events, and the run metrics' shape.

What moto skips (lifecycle rules, delete-marker replication, trails, alarms) is asserted here, on the
rendered templates; tests/test_infra_deploy.py checks what moto really creates in two regions, and
tests/test_governance_lake.py the metrics of real runs and `lakehouse dr restore`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra import monitoring
from infra.packaging import ArtifactSet, collect_artifacts
from infra.settings import DeploySettings
from infra.storage import BootstrapOutputs, DrOutputs
from infra.template import dr_template, main_template, to_json
from jobs import maintain_tables, run_metrics
from jobs.contracts import list_datasets
from pipelines import health

ACCOUNT = "123456789012"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DR_KEY_ARN = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/9876abcd-12ab-34cd-56ef-1234567890ab"
SETTINGS = DeploySettings(stage="prod", account=ACCOUNT)
BOOTSTRAP = BootstrapOutputs(KEY_ARN, SETTINGS.bucket_name("artifacts"), SETTINGS.bucket_name("logs"))
DR = DrOutputs("us-west-2", DR_KEY_ARN, SETTINGS.dr_gold_bucket)


@pytest.fixture(scope="module")
def artifacts() -> ArtifactSet:
    return collect_artifacts()


def render(artifacts: ArtifactSet, settings: DeploySettings = SETTINGS, dr: DrOutputs | None = DR) -> dict[str, Any]:
    bootstrap = BootstrapOutputs(KEY_ARN, settings.bucket_name("artifacts"), settings.bucket_name("logs"))
    return json.loads(to_json(main_template(settings, bootstrap, artifacts, dr_outputs=dr)))["Resources"]


@pytest.fixture(scope="module")
def main(artifacts: ArtifactSet) -> dict[str, Any]:
    return render(artifacts)


@pytest.fixture(scope="module")
def dr_stack() -> dict[str, Any]:
    return json.loads(to_json(dr_template(SETTINGS)))["Resources"]


def rules(bucket: dict[str, Any]) -> list[dict[str, Any]]:
    return bucket["Properties"]["LifecycleConfiguration"]["Rules"]


def expirations(bucket: dict[str, Any]) -> dict[str, int]:
    return {rule.get("Prefix", ""): rule["ExpirationInDays"] for rule in rules(bucket) if "ExpirationInDays" in rule}


# -- retention of raw files ------------------------------------------------------------------------------
def test_bronze_raw_files_expire_after_90_days_and_no_table_file_ever_does(main: dict[str, Any],
                                                                           dr_stack: dict[str, Any]) -> None:
    bronze = main["BronzeBucket"]
    assert expirations(bronze) == {f"{name}/": 90 for name in list_datasets()}
    # noncurrent versions (overwritten or deleted raw files, and quarantine files that snapshot expiry
    # deleted) go within the 90 days too
    [noncurrent] = [rule for rule in rules(bronze) if "NoncurrentVersionExpiration" in rule]
    assert "Prefix" not in noncurrent and noncurrent["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 90
    # the quarantine is an Iceberg table: its raw copies leave through row retention, never S3 expiry
    assert not any(prefix.startswith("quarantine") for prefix in expirations(bronze))
    assert maintain_tables.RETENTION["quarantine"].rows_days == 90
    for bucket in (main["SilverBucket"], main["GoldBucket"], dr_stack["DrGoldBucket"]):
        assert expirations(bucket) == {}
        assert not any("Transitions" in rule or "ExpiredObjectDeleteMarker" in rule for rule in rules(bucket))


# -- DR: the stack in the DR region and gold's replication --------------------------------------------
def test_dr_stack_has_its_own_key_and_a_private_versioned_tls_only_replica(dr_stack: dict[str, Any]) -> None:
    replica = dr_stack["DrGoldBucket"]["Properties"]
    assert replica["BucketName"] == SETTINGS.dr_gold_bucket == f"lakehouse-prod-gold-dr-{ACCOUNT}"
    assert replica["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(replica["PublicAccessBlockConfiguration"].values())
    default = replica["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": {"Fn::GetAtt": ["DrKey", "Arn"]}}
    assert dr_stack["DrKey"]["Properties"]["EnableKeyRotation"] is True
    [tls] = [s for s in dr_stack["DrGoldBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
             if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert tls["Effect"] == "Deny" and tls["Principal"] == "*"
    assert replica["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "DrLogsBucket"}


def test_gold_replicates_everything_to_the_dr_key_with_delete_markers_and_rtc(main: dict[str, Any]) -> None:
    config = main["GoldBucket"]["Properties"]["ReplicationConfiguration"]
    assert config["Role"] == {"Fn::GetAtt": ["GoldReplicationRole", "Arn"]}
    [rule] = config["Rules"]
    assert (rule["Status"], rule["Filter"]) == ("Enabled", {"Prefix": ""})
    assert rule["DeleteMarkerReplication"] == {"Status": "Enabled"}
    assert rule["SourceSelectionCriteria"] == {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
    destination = rule["Destination"]
    assert destination["Bucket"] == {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{SETTINGS.dr_gold_bucket}"}
    assert destination["EncryptionConfiguration"] == {"ReplicaKmsKeyID": DR_KEY_ARN}
    assert destination["ReplicationTime"] == {"Status": "Enabled", "Time": {"Minutes": 15}}
    assert destination["Metrics"] == {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}
    assert main["GoldBucket"]["Properties"]["VersioningConfiguration"] == {"Status": "Enabled"}
    # only gold replicates: silver is rebuilt from bronze
    assert all("ReplicationConfiguration" not in main[b]["Properties"] for b in ("BronzeBucket", "SilverBucket"))


def test_replication_role_decrypts_with_the_lake_key_and_encrypts_only_with_the_dr_key(main: dict[str, Any]) -> None:
    role = main["GoldReplicationRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": ["s3.amazonaws.com"]}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    by_action = {action: item for item in statements for action in item["Action"]}
    assert by_action["kms:Decrypt"]["Resource"] == KEY_ARN
    assert by_action["kms:Encrypt"]["Resource"] == DR_KEY_ARN
    assert by_action["kms:Encrypt"]["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-west-2.amazonaws.com"}
    assert by_action["s3:ReplicateDelete"]["Resource"] == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{SETTINGS.dr_gold_bucket}/*"}
    assert not any(action.startswith("s3:Put") or action == "s3:*" for action in by_action)


def test_without_a_dr_region_nothing_replicates(artifacts: ArtifactSet) -> None:
    resources = render(artifacts, DeploySettings(stage="dev", account=ACCOUNT, dr_region=None), dr=None)
    assert "GoldReplicationRole" not in resources
    assert "ReplicationConfiguration" not in resources["GoldBucket"]["Properties"]
    with pytest.raises(ValueError, match="DR region must differ"):
        DeploySettings(stage="dev", account=ACCOUNT, dr_region="us-east-1")


# -- the Data Engineer role ---------------------------------------------------------------------------
def test_data_engineer_role_is_assumed_with_mfa_and_keeps_the_quarantine_read_only(main: dict[str, Any]) -> None:
    role = main["DataEngineerRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    statements = role["Policies"][0]["PolicyDocument"]["Statement"]
    [quarantine] = [s for s in statements if s.get("Sid") == "QuarantineIsReadOnly"]
    assert quarantine["Effect"] == "Deny" and "s3:PutObject" in quarantine["Action"]
    assert "s3:GetObject" not in quarantine["Action"]
    assert {"NoIamChanges", "NoNetworkChanges"} <= {s.get("Sid") for s in statements}


# -- audit ---------------------------------------------------------------------------------------------
def test_cloudtrail_records_data_events_on_the_audited_layers(main: dict[str, Any], artifacts: ArtifactSet) -> None:
    trail = main["DataAccessTrail"]["Properties"]
    [selector] = trail["EventSelectors"]
    assert (selector["ReadWriteType"], selector["IncludeManagementEvents"]) == ("All", False)
    values = selector["DataResources"][0]["Values"]
    assert values == [{"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::{SETTINGS.bucket_name(layer)}/"}
                      for layer in ("silver", "gold")]
    assert trail["S3BucketName"] == SETTINGS.bucket_name("logs") and trail["KMSKeyId"] == KEY_ARN
    assert trail["EnableLogFileValidation"] is True
    gold_only = render(artifacts, DeploySettings(stage="prod", account=ACCOUNT, audited_layers=("gold",)))
    assert len(gold_only["DataAccessTrail"]["Properties"]["EventSelectors"][0]["DataResources"][0]["Values"]) == 1
    assert "DataAccessTrail" not in render(artifacts, DeploySettings(stage="prod", account=ACCOUNT, audited_layers=()))


def test_alarms_cover_failure_quarantine_share_and_missing_runs(main: dict[str, Any]) -> None:
    names = {body["Properties"]["AlarmName"] for body in main.values() if body["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"lakehouse-prod-ingestion-run-failed", "lakehouse-prod-ingestion-quarantine-share",
            "lakehouse-prod-ingestion-no-successful-run"} <= names
    missing = main["IngestionNoSuccessfulRunAlarm"]["Properties"]
    assert (missing["TreatMissingData"], missing["ComparisonOperator"]) == ("breaching", "LessThanThreshold")
    assert missing["Metrics"][0]["MetricStat"]["Period"] == 86_400
    share = main["IngestionQuarantineShareAlarm"]["Properties"]
    assert share["Threshold"] == SETTINGS.quarantine_alarm_percent
    dashboard = json.loads(main[monitoring.DASHBOARD_ID]["Properties"]["DashboardBody"])
    alarm_widget = next(w for w in dashboard["widgets"] if w["type"] == "alarm")
    on_run_metrics = {body["Properties"]["AlarmName"] for body in main.values()
                      if body["Type"] == "AWS::CloudWatch::Alarm" and any(
                          q.get("MetricStat", {}).get("Metric", {}).get("Namespace") == run_metrics.NAMESPACE
                          for q in body["Properties"]["Metrics"])}
    assert {arn.rsplit(":", 1)[1] for arn in alarm_widget["properties"]["alarms"]} == on_run_metrics


# -- run metrics ------------------------------------------------------------------------------------------
def manifest(status: str = "SUCCEEDED") -> dict[str, Any]:
    return {"pipeline": "ingestion", "run_id": "r1", "status": status, "finished_at": "2024-01-03T10:00:00+00:00",
            "duration_seconds": 42.5,
            "totals": {"bronze_rows": 10, "silver_rows": 7, "quarantined_rows": 2, "duplicate_rows": 1},
            "datasets": {"customers": {"bronze_rows": 10, "silver_rows": 7, "quarantined_rows": 2,
                                       "duplicate_rows": 1, "quality": {"suite": "silver.customers",
                                                                        "status": "failed", "warnings": ["w"]}}},
            "jobs": {"silver_to_gold": {"tables": {"daily": {"table": "gold.daily", "rows_written": 5}}}}}


def test_metric_data_of_a_failed_run() -> None:
    data = {(d["MetricName"], d["Dimensions"][1]["Value"]): d for d in run_metrics.metric_data(manifest("FAILED"))}
    assert data[("RunFailed", "_run")]["Value"] == 1.0 and data[("RunSucceeded", "_run")]["Value"] == 0.0
    assert data[("RunDurationSeconds", "_run")]["Unit"] == "Seconds"
    assert data[("QuarantinedRows", "customers")]["Value"] == 2.0
    assert data[("GoldRowsOut", "daily")]["Value"] == 5.0
    assert data[("QualityGateFailed", "silver.customers")]["Value"] == 1.0
    assert data[("QualityGateWarnings", "silver.customers")]["Value"] == 1.0
    assert {d["MetricName"] for d in data.values()} == set(run_metrics.PUBLISHED_METRICS)


def test_local_metrics_file_per_day_and_a_clear_error_on_a_bad_line(tmp_path: Path) -> None:
    ops = tmp_path / "ops"
    path = run_metrics.publish(manifest(), str(ops), "local")
    assert Path(path) == ops / "metrics" / "2024-01-03.jsonl"
    run_metrics.publish({**manifest(), "run_id": "r2"}, str(ops), "auto")
    [first, second] = run_metrics.read_local(ops)
    assert (first["RunId"], second["RunId"]) == ("r1", "r2")
    [row, _] = health.load(ops)
    assert (row.bronze_in, row.quarantined, row.gold_out, row.gates_failed, row.seconds) == (10, 2, 5, 1, 42.5)
    assert "20.0" in health.table([row]).splitlines()[2]  # quarantined % (under the header and its rule)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{not json\n")
    with pytest.raises(ValueError, match=r"2024-01-03\.jsonl:3: not a metrics line"):
        run_metrics.read_local(ops)
    with pytest.raises(ValueError, match="--metrics must be"):
        run_metrics.publish(manifest(), str(ops), "s3")


def test_a_run_on_s3_publishes_the_same_metric_data_to_cloudwatch(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        note = run_metrics.publish(manifest(), "s3://lakehouse-prod-artifacts-123456789012/ops/")
        assert note.startswith(f"{len(run_metrics.metric_data(manifest()))} metrics to CloudWatch")
        listed = boto3.client("cloudwatch").list_metrics(Namespace=run_metrics.NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in listed} == set(run_metrics.PUBLISHED_METRICS)
    assert {"Pipeline", "Dataset"} == {d["Name"] for m in listed for d in m["Dimensions"]}
