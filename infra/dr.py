"""Disaster recovery of gold: a stack in the DR region and S3 replication from the primary's gold.

    DR stack (DR region):  its own KMS key, an access-logs bucket, the gold replica bucket
                           (versioned, SSE-KMS with the DR key, public access blocked, TLS-only)
    main stack (primary):  the replication role, and gold's ReplicationConfiguration: every object
                           and delete marker, re-encrypted with the DR key, Replication Time Control
                           (15 minutes, well inside the 1-hour RPO) with its metrics

The DR stack is deployed before the main stack, whose replication rule needs the DR bucket and key.
After a failover, `lakehouse dr restore` makes the replicated tables readable (pipelines/dr_restore.py).
"""

from __future__ import annotations

from infra.cfn import Json, allow, get_att, ref, resource, s3_arn, same_account_condition, service_trust, sub
from infra.iam import REPLICATION_ROLE_ID, role
from infra.settings import REPLICATION_TIME_MINUTES, DeploySettings
from infra.storage import (
    NONCURRENT_VERSION_DAYS,
    DrOutputs,
    _kms_encryption,
    bucket,
    kms_key,
    logs_bucket,
    logs_bucket_policy,
    tls_only_policy,
)

DR_KEY_ID = "DrKey"
DR_LOGS_BUCKET_ID = "DrLogsBucket"
DR_GOLD_BUCKET_ID = "DrGoldBucket"


def dr_logs_bucket_name(settings: DeploySettings) -> str:
    return settings.bucket_name("logs-dr")


def dr_resources(settings: DeploySettings) -> dict[str, Json]:
    logs_name = dr_logs_bucket_name(settings)
    key = kms_key(settings)
    key["Properties"]["Description"] = f"{settings.prefix} {settings.stage}: gold's replica in the DR region"
    # Like gold: versioned, no expiration of table files (Iceberg's snapshot expiry retires rows).
    replica = bucket(settings, settings.dr_gold_bucket, encryption=_kms_encryption(get_att(DR_KEY_ID, "Arn")),
                     lifecycle=[], noncurrent_days=NONCURRENT_VERSION_DAYS["gold"], logs_bucket=ref(DR_LOGS_BUCKET_ID))
    return {
        DR_KEY_ID: key,
        "DrKeyAlias": resource("AWS::KMS::Alias", {"AliasName": f"alias/{settings.prefix}-{settings.stage}-dr",
                                                   "TargetKeyId": ref(DR_KEY_ID)}),
        DR_LOGS_BUCKET_ID: logs_bucket(settings, logs_name),
        "DrLogsBucketPolicy": logs_bucket_policy(settings, DR_LOGS_BUCKET_ID, logs_name, cloudtrail=False),
        DR_GOLD_BUCKET_ID: replica,
        "DrGoldBucketPolicy": tls_only_policy(DR_GOLD_BUCKET_ID, settings.dr_gold_bucket),
    }


def replication_role(settings: DeploySettings, source_key_arn: str, dr: DrOutputs) -> Json:
    """What S3 replication needs (AWS's documented set), on gold and its replica only."""
    gold = settings.bucket_name("gold")
    statements = [
        allow(["s3:GetReplicationConfiguration", "s3:ListBucket"], s3_arn(gold)),
        allow(["s3:GetObjectVersionForReplication", "s3:GetObjectVersionAcl", "s3:GetObjectVersionTagging"],
              s3_arn(gold, "*")),
        allow(["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"], s3_arn(dr.gold_bucket, "*")),
        allow(["kms:Decrypt"], source_key_arn, condition={
            "StringEquals": {"kms:ViaService": sub("s3.${AWS::Region}.amazonaws.com")},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": sub(f"arn:${{AWS::Partition}}:s3:::{gold}/*")}}),
        allow(["kms:Encrypt", "kms:GenerateDataKey"], dr.kms_key_arn, condition={
            "StringEquals": {"kms:ViaService": f"s3.{dr.region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn":
                           sub(f"arn:${{AWS::Partition}}:s3:::{dr.gold_bucket}/*")}}),
    ]
    return role(settings, REPLICATION_ROLE_ID, "Replicates gold to the DR region.",
                service_trust("s3.amazonaws.com", condition=same_account_condition()), statements)


def replication_configuration(settings: DeploySettings, dr: DrOutputs) -> Json:
    """Gold's whole bucket, delete markers included, re-encrypted with the DR key, with RTC metrics."""
    minutes = {"Minutes": REPLICATION_TIME_MINUTES}
    return {
        "Role": get_att(REPLICATION_ROLE_ID, "Arn"),
        "Rules": [{
            "Id": "gold-to-dr",
            "Status": "Enabled",
            "Priority": 1,
            "Filter": {"Prefix": ""},
            "DeleteMarkerReplication": {"Status": "Enabled"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "Destination": {
                "Bucket": sub(f"arn:${{AWS::Partition}}:s3:::{dr.gold_bucket}"),
                "EncryptionConfiguration": {"ReplicaKmsKeyID": dr.kms_key_arn},
                "ReplicationTime": {"Status": "Enabled", "Time": minutes},
                "Metrics": {"Status": "Enabled", "EventThreshold": minutes},
                "StorageClass": "STANDARD",
            },
        }],
    }
