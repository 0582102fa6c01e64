"""The fixes moto's CloudFormation, KMS and IAM need to deploy this project's stack through change sets
(`infra.emulator`, the local deploy target). Each is a `MotoPatch` in `CLOUDFORMATION_PATCHES`, listed
with the others in `moto_registry` and active only inside `patched_cloudformation()`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.cloudformation.models import ChangeSet
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.responses import DynamoHandler
from moto.iam.models import Role
from moto.kms.models import Key
from moto.s3 import models as s3_models
from moto.utilities.utils import get_partition

from pipelines.local_engine.moto_patches import WRITTEN_FOR
from pipelines.local_engine.moto_seam import MotoPatch, applied


def _key_with_cfn_tags(original: Any, _hooks: Any) -> classmethod:
    create_key = original.__func__  # moto's classmethod, unbound

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties", {})
        properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]}
                              for tag in properties.get("Tags", [])]
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return create_key(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    return classmethod(create_from_cloudformation_json)


def _apply_and_refresh_outputs(original: Callable[[Any], None], _hooks: Any) -> Callable[[Any], None]:
    def apply(self: Any) -> None:
        original(self)
        self.stack.template = self.template
        self.stack._parse_template()
        self.stack.output_map = self.stack._create_output_map()

    return apply


def _put_role_policy_as_text(original: Callable[..., None], _hooks: Any) -> Callable[..., None]:
    def put_policy(self: Any, policy_name: str, policy_json: Any) -> None:
        original(self, policy_name, policy_json if isinstance(policy_json, str) else json.dumps(policy_json))

    return put_policy


def replication_as_api(replication: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's ReplicationConfiguration in the shape moto's S3 API stores (`Rule`, `ID`)."""
    rules = [{("ID" if key == "Id" else key): value for key, value in rule.items()} for rule in replication["Rules"]]
    return {"Role": replication["Role"], "Rule": rules}


def _bucket_with_versioning_and_replication(original: Any, _hooks: Any) -> classmethod:
    create_bucket = original.__func__  # moto's classmethod, unbound

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        bucket = create_bucket(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        properties = cloudformation_json.get("Properties", {})
        backend = s3_models.s3_backends[account_id][get_partition(region_name)]
        versioning = properties.get("VersioningConfiguration", {}).get("Status")
        if versioning:
            backend.put_bucket_versioning(resource_name, versioning)
        replication = properties.get("ReplicationConfiguration")
        if replication:
            backend.put_bucket_replication(resource_name, replication_as_api(replication))
        return bucket

    return classmethod(create_from_cloudformation_json)


def _dynamodb_table_arn(_original: Any, _hooks: Any) -> Callable[[Any], str]:
    def determine_resource(self: Any) -> str:
        body = getattr(self, "body", None) or {}
        tables = [body["TableName"]] if body.get("TableName") else list(body.get("RequestItems") or {})
        if len(tables) != 1:
            return "*"
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.current_account}:table/{tables[0]}"

    return determine_resource


def _table_with_sse_pitr_and_ttl(original: Any, _hooks: Any) -> classmethod:
    create_table = original.__func__  # moto's classmethod, unbound

    def create_from_cloudformation_json(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties", {})
        sse = properties.get("SSESpecification")
        if sse and "SSEEnabled" in sse:
            properties["SSESpecification"] = {"Enabled": sse["SSEEnabled"],
                                              **{k: v for k, v in sse.items() if k != "SSEEnabled"}}
        table = create_table(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        backend = dynamodb_models.dynamodb_backends[account_id][region_name]
        if properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            backend.update_continuous_backups(table.name, {"PointInTimeRecoveryEnabled": True})
        ttl = properties.get("TimeToLiveSpecification")
        if ttl:
            backend.update_time_to_live(table.name, ttl)
        return table

    return classmethod(create_from_cloudformation_json)


CLOUDFORMATION_PATCHES: tuple[MotoPatch, ...] = (
    MotoPatch(
        name="cfn-kms-key-tags-and-policy", target=Key, attribute="create_from_cloudformation_json",
        fixes="an AWS::KMS::Key with Tags crashes (CloudFormation's Key/Value tags reach a tagger expecting "
              "TagKey/TagValue), and its KeyPolicy is stored as a dict where DescribeKey expects JSON text",
        written_for=WRITTEN_FOR, replacement=_key_with_cfn_tags),
    MotoPatch(
        name="cfn-change-set-outputs", target=ChangeSet, attribute="apply",
        fixes="a stack created or updated by a change set keeps its previous template's outputs (none for a "
              "new stack); the outputs are rebuilt when the change set is applied",
        written_for=WRITTEN_FOR, replacement=_apply_and_refresh_outputs),
    MotoPatch(
        name="iam-role-inline-policy-as-text", target=Role, attribute="put_policy",
        fixes="an AWS::IAM::Role's inline Policies are stored as dicts where the policy evaluator expects JSON "
              "text (a 500 on the first request checked against them)",
        written_for=WRITTEN_FOR, replacement=_put_role_policy_as_text),
    MotoPatch(
        name="cfn-bucket-versioning-and-replication", target=s3_models.FakeBucket,
        attribute="create_from_cloudformation_json",
        fixes="an AWS::S3::Bucket's VersioningConfiguration and ReplicationConfiguration are ignored (only "
              "encryption and tags are applied); both are applied through moto's own S3 API calls. moto never "
              "copies replicated objects and reports DeleteMarkerReplication as Disabled whatever was configured: "
              "the template tests assert those on the template",
        written_for=WRITTEN_FOR, replacement=_bucket_with_versioning_and_replication),
    MotoPatch(
        name="dynamodb-authorise-against-the-table", target=DynamoHandler, attribute="_determine_resource",
        adds=True,  # moto's BaseResponse asks for the resource through this hook when a service defines it
        fixes="DynamoDB requests are authorised against the resource '*' rather than the table's ARN, so a policy "
              "scoped to a table denies everything; the handler is given the table ARN (from TableName, or the "
              "single table of a batch request), as IAM evaluates it on AWS",
        written_for=WRITTEN_FOR, replacement=_dynamodb_table_arn),
    MotoPatch(
        name="cfn-dynamodb-table-sse-pitr-ttl", target=dynamodb_models.Table,
        attribute="create_from_cloudformation_json",
        fixes="an AWS::DynamoDB::Table loses its encryption (CloudFormation's SSEEnabled is read as the API's "
              "Enabled), its point-in-time recovery and its TTL (both ignored); they are applied as the DynamoDB "
              "API would",
        written_for=WRITTEN_FOR, replacement=_table_with_sse_pitr_and_ttl),
)


@contextmanager
def patched_cloudformation() -> Iterator[None]:
    """Apply the CloudFormation/KMS/IAM fixes for the duration of the block; moto is restored on exit."""
    with applied(CLOUDFORMATION_PATCHES):
        yield
