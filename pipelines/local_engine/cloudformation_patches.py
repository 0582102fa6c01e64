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
)


@contextmanager
def patched_cloudformation() -> Iterator[None]:
    """Apply the CloudFormation/KMS/IAM fixes for the duration of the block; moto is restored on exit."""
    with applied(CLOUDFORMATION_PATCHES):
        yield
