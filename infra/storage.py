"""The KMS key and the S3 buckets: bootstrap (key, logs, artifacts) and the three lake layers.

Every bucket blocks public access, disables ACLs, denies plain-HTTP requests, logs access to the
logs bucket and expires what it should. The data and artifact buckets use SSE-KMS with the
customer-managed key; the logs bucket uses SSE-S3 because S3 server access logging cannot deliver
to a bucket whose default encryption is SSE-KMS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.cfn import Json, arn, policy_document, resource, s3_arn, same_account_condition, statement, sub
from infra.settings import GLUE_TEMP_PREFIX, LAYER_RETENTION_DAYS, OPS_PREFIX, DeploySettings

KMS_KEY_ID = "LakeKey"
LOGS_BUCKET_ID = "LogsBucket"
ARTIFACTS_BUCKET_ID = "ArtifactsBucket"
LAYER_BUCKET_IDS = {"bronze": "BronzeBucket", "silver": "SilverBucket", "gold": "GoldBucket"}

ACCESS_LOG_RETENTION_DAYS = 365
# How long an overwritten or deleted object stays recoverable in a versioned bucket. Bronze keeps
# it short so that its 90-day retention of raw PII still ends within a week.
NONCURRENT_VERSION_DAYS = {"bronze": 7, "gold": 30, "artifacts": 30}
VERSIONED_LAYERS = ("bronze", "gold")
INCOMPLETE_UPLOAD_DAYS = 7
GLUE_TEMP_DAYS = 7


@dataclass(frozen=True)
class BootstrapOutputs:
    """What the main stack needs from the bootstrap stack (read from its outputs at deploy time)."""

    kms_key_arn: str
    artifacts_bucket: str
    logs_bucket: str


@dataclass(frozen=True)
class DrOutputs:
    """What the main stack needs from the DR stack (read from its outputs at deploy time)."""

    region: str
    kms_key_arn: str
    gold_bucket: str


def retention_attributes(settings: DeploySettings) -> dict[str, str]:
    policy = "Retain" if settings.profile.retain_data_on_delete else "Delete"
    return {"DeletionPolicy": policy, "UpdateReplacePolicy": policy}


# -- KMS -------------------------------------------------------------------------------------------
def kms_key(settings: DeploySettings) -> Json:
    account_root = sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")
    key_policy = policy_document([
        statement("Allow", ["kms:*"], "*", sid="AccountAdministersKeyThroughIam",
                  principal={"AWS": account_root}),
        statement("Allow", ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey*",
                            "kms:ReEncrypt*"], "*",
                  sid="CloudWatchLogsEncryptsLogGroups",
                  principal={"Service": sub("logs.${AWS::Region}.amazonaws.com")},
                  condition={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": arn("logs", "log-group:*")}}),
        statement("Allow", ["kms:DescribeKey", "kms:GenerateDataKey*"], "*", sid="CloudTrailEncryptsLogFiles",
                  principal={"Service": "cloudtrail.amazonaws.com"},
                  condition={"StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn":
                                            sub("arn:${AWS::Partition}:cloudtrail:*:${AWS::AccountId}:trail/*")}}),
        statement("Allow", ["kms:Decrypt", "kms:GenerateDataKey*"], "*",
                  sid="AlarmsAndEventsPublishToEncryptedTopic",
                  principal={"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                  condition=same_account_condition()),
    ])
    return resource("AWS::KMS::Key", {
        "Description": f"{settings.prefix} {settings.stage}: lake, artifacts, logs, alerts and secrets",
        "EnableKeyRotation": True,
        "KeyPolicy": key_policy,
    }, **retention_attributes(settings))


def kms_alias(settings: DeploySettings) -> Json:
    return resource("AWS::KMS::Alias", {
        "AliasName": f"alias/{settings.prefix}-{settings.stage}",
        "TargetKeyId": {"Ref": KMS_KEY_ID},
    })


# -- buckets ---------------------------------------------------------------------------------------
def _public_access_block() -> Json:
    return {"BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}


def _kms_encryption(kms_key_arn: Any) -> Json:
    return {"ServerSideEncryptionConfiguration": [{
        "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key_arn},
        "BucketKeyEnabled": True,
    }]}


def _expire(rule_id: str, days: int, prefix: str | None = None) -> Json:
    rule: Json = {"Id": rule_id, "Status": "Enabled", "ExpirationInDays": days}
    if prefix:
        rule["Prefix"] = prefix
    return rule


def _housekeeping_rules(noncurrent_days: int | None) -> list[Json]:
    rules: list[Json] = [{"Id": "abort-incomplete-uploads", "Status": "Enabled",
                          "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": INCOMPLETE_UPLOAD_DAYS}}]
    if noncurrent_days is not None:
        rules.append({"Id": "expire-noncurrent-versions", "Status": "Enabled",
                      "NoncurrentVersionExpiration": {"NoncurrentDays": noncurrent_days}})
    return rules


def bucket(settings: DeploySettings, name: str, *, encryption: Json, lifecycle: list[Json],
           noncurrent_days: int | None, logs_bucket: Any | None) -> Json:
    """A private, encrypted, TLS-only bucket; versioned when `noncurrent_days` says how long to keep."""
    properties: Json = {
        "BucketName": name,
        "BucketEncryption": encryption,
        "PublicAccessBlockConfiguration": _public_access_block(),
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "LifecycleConfiguration": {"Rules": lifecycle + _housekeeping_rules(noncurrent_days)},
    }
    if noncurrent_days is not None:
        properties["VersioningConfiguration"] = {"Status": "Enabled"}
    if logs_bucket is not None:
        properties["LoggingConfiguration"] = {"DestinationBucketName": logs_bucket,
                                              "LogFilePrefix": f"s3-access/{name}/"}
    return resource("AWS::S3::Bucket", properties, **retention_attributes(settings))


def tls_only_policy(bucket_id: str, bucket_name: str, extra: list[Json] | None = None) -> Json:
    deny_plain_http = statement(
        "Deny", ["s3:*"], [s3_arn(bucket_name), s3_arn(bucket_name, "*")], sid="DenyRequestsWithoutTls",
        principal="*", condition={"Bool": {"aws:SecureTransport": "false"}})
    return resource("AWS::S3::BucketPolicy", {
        "Bucket": {"Ref": bucket_id},
        "PolicyDocument": policy_document([deny_plain_http, *(extra or [])]),
    })


def logs_bucket(settings: DeploySettings, name: str | None = None) -> Json:
    return bucket(settings, name or settings.bucket_name("logs"),
                  encryption={"ServerSideEncryptionConfiguration": [
                      {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
                  lifecycle=[_expire("expire-access-logs", ACCESS_LOG_RETENTION_DAYS)],
                  noncurrent_days=None, logs_bucket=None)


CLOUDTRAIL_PREFIX = "cloudtrail"


def logs_bucket_policy(settings: DeploySettings, bucket_id: str = LOGS_BUCKET_ID, name: str | None = None,
                       *, cloudtrail: bool = True) -> Json:
    """S3 access-log delivery, and (primary region) CloudTrail's delivery of the data-event trail."""
    name = name or settings.bucket_name("logs")
    statements = [statement(
        "Allow", ["s3:PutObject"], s3_arn(name, "s3-access/*"), sid="S3ServerAccessLogDelivery",
        principal={"Service": "logging.s3.amazonaws.com"},
        condition=same_account_condition())]
    if cloudtrail:
        trail_arn = arn("cloudtrail", f"trail/{settings.name('data-access')}")
        statements += [
            statement("Allow", ["s3:GetBucketAcl"], s3_arn(name), sid="CloudTrailAclCheck",
                      principal={"Service": "cloudtrail.amazonaws.com"},
                      condition={"StringEquals": {"aws:SourceArn": trail_arn}}),
            statement("Allow", ["s3:PutObject"], s3_arn(name, f"{CLOUDTRAIL_PREFIX}/AWSLogs/${{AWS::AccountId}}/*"),
                      sid="CloudTrailDelivery", principal={"Service": "cloudtrail.amazonaws.com"},
                      condition={"StringEquals": {"aws:SourceArn": trail_arn,
                                                  "s3:x-amz-acl": "bucket-owner-full-control"}}),
        ]
    return tls_only_policy(bucket_id, name, statements)


def artifacts_bucket(settings: DeploySettings) -> Json:
    """Versioned (cheap: keys are content-addressed, so nothing is overwritten) to undo deletions."""
    return bucket(settings, settings.bucket_name("artifacts"),
                  encryption=_kms_encryption({"Fn::GetAtt": [KMS_KEY_ID, "Arn"]}),
                  lifecycle=[_expire("expire-glue-temp", GLUE_TEMP_DAYS, GLUE_TEMP_PREFIX),
                             _expire("expire-ops-records", LAYER_RETENTION_DAYS["gold"], OPS_PREFIX)],
                  noncurrent_days=NONCURRENT_VERSION_DAYS["artifacts"], logs_bucket={"Ref": LOGS_BUCKET_ID})


def layer_expiration(layer: str) -> list[Json]:
    """Object expiration only where objects are plain files: each bronze dataset's prefix (90 days).

    Silver, gold and the quarantine (a prefix of the bronze bucket) are Iceberg tables: expiring a
    data file that a current snapshot still references corrupts the table, so their retention
    (silver 1 year, gold 3 years) must go through row deletes and snapshot expiry, never S3 lifecycle.
    """
    if layer != "bronze":
        return []
    from jobs.contracts import list_datasets

    return [_expire(f"expire-bronze-{name}", LAYER_RETENTION_DAYS["bronze"], f"{name}/") for name in list_datasets()]


def layer_bucket(settings: DeploySettings, layer: str, bootstrap: BootstrapOutputs) -> Json:
    """Bronze datasets expire after 90 days (`layer_expiration`); the Iceberg tables never by lifecycle.

    Bronze is versioned because it is the only copy of the raw data; gold because consumers read it.
    Silver is not: it is rebuilt from bronze, and its table keeps its own snapshots.
    """
    return bucket(settings, settings.bucket_name(layer),
                  encryption=_kms_encryption(bootstrap.kms_key_arn),
                  lifecycle=layer_expiration(layer),
                  noncurrent_days=NONCURRENT_VERSION_DAYS.get(layer) if layer in VERSIONED_LAYERS else None,
                  logs_bucket=bootstrap.logs_bucket)


def bootstrap_resources(settings: DeploySettings) -> dict[str, Json]:
    return {
        KMS_KEY_ID: kms_key(settings),
        "LakeKeyAlias": kms_alias(settings),
        LOGS_BUCKET_ID: logs_bucket(settings),
        "LogsBucketPolicy": logs_bucket_policy(settings),
        ARTIFACTS_BUCKET_ID: artifacts_bucket(settings),
        "ArtifactsBucketPolicy": tls_only_policy(ARTIFACTS_BUCKET_ID, settings.bucket_name("artifacts")),
    }


def layer_resources(settings: DeploySettings, bootstrap: BootstrapOutputs) -> dict[str, Json]:
    resources: dict[str, Json] = {}
    for layer, logical_id in LAYER_BUCKET_IDS.items():
        resources[logical_id] = layer_bucket(settings, layer, bootstrap)
        resources[f"{logical_id}Policy"] = tls_only_policy(logical_id, settings.bucket_name(layer))
    return resources

