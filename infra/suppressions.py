"""Security-scanner findings accepted on purpose, each with its reason.

One list feeds the template (each resource's Metadata: checkov reads `checkov.skip`; cfripper has no
in-template syntax, so `infra.scan` turns the `cfripper` entries into cfripper allow-filters) and the
table in docs/deploy.md, which a test keeps in step with this list.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.cfn import Json


@dataclass(frozen=True)
class Suppression:
    scanner: str  # "cfripper" or "checkov"
    rule: str
    logical_ids: tuple[str, ...]
    reason: str


SUPPRESSIONS: tuple[Suppression, ...] = (
    Suppression(
        "checkov", "CKV_AWS_252", ("DataAccessTrail",),
        "The data-event trail delivers a log file every few minutes; an SNS notification per file "
        "would flood the alert topic. The trail is read by auditors, not watched; pipeline alarms "
        "have their own topic."),
    Suppression(
        "cfripper", "GenericResourceWildcardPolicyRule", ("LakeKey", "DrKey"),
        "The key policy's `kms:*` is granted only to the account root, which delegates key use to IAM "
        "policies (AWS's default key policy); without it the key becomes unmanageable."),
    Suppression(
        "cfripper", "WildcardResourceRule", ("StateMachineRole",),
        "Step Functions log delivery (logs:CreateLogDelivery, GetLogDelivery, UpdateLogDelivery, "
        "DeleteLogDelivery, ListLogDeliveries, PutResourcePolicy, DescribeResourcePolicies, "
        "DescribeLogGroups) has no resource-level permissions; AWS documents `Resource: *` for it. "
        "Every other statement of the role is scoped to this stage's jobs, topic and key."),
    Suppression(
        "checkov", "CKV_AWS_18", ("LogsBucket", "DrLogsBucket"),
        "The logs bucket is the access-log destination; logging it into itself would loop, and "
        "CloudTrail data events are the account-level control for it."),
    Suppression(
        "checkov", "CKV_AWS_21", ("LogsBucket", "DrLogsBucket"),
        "Access logs are written once by the S3 logging service and expire after a year; versions "
        "would only add cost."),
    Suppression(
        "cfripper", "S3ObjectVersioningRule", ("LogsBucket", "DrLogsBucket"),
        "Same as CKV_AWS_21 on LogsBucket and DrLogsBucket: write-once access logs."),
    Suppression(
        "checkov", "CKV_AWS_21", ("SilverBucket",),
        "Silver is rebuilt from (versioned) bronze by idempotent runs that overwrite whole "
        "partitions; versions would keep superseded copies of masked personal data for no recovery "
        "value."),
    Suppression(
        "cfripper", "S3ObjectVersioningRule", ("SilverBucket",),
        "Same as CKV_AWS_21 on SilverBucket: silver is reproducible from bronze."),
)


def suppressions_for(scanner: str) -> list[Suppression]:
    return [item for item in SUPPRESSIONS if item.scanner == scanner]


def suppression_metadata(logical_id: str) -> Json:
    checkov = [{"id": item.rule, "comment": item.reason}
               for item in suppressions_for("checkov") if logical_id in item.logical_ids]
    cfripper = [{"rule": item.rule, "reason": item.reason}
                for item in suppressions_for("cfripper") if logical_id in item.logical_ids]
    metadata: Json = {}
    if checkov:
        metadata["checkov"] = {"skip": checkov}
    if cfripper:
        metadata["cfripper"] = {"accepted": cfripper}
    return metadata
