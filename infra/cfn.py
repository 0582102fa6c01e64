"""Small helpers for writing CloudFormation as plain dictionaries: intrinsics, ARNs, tags, policies.

A resource is `{"Type": ..., "Properties": ...}`; a template is a dict dumped to JSON. The helpers
only remove repetition; they never hide what ends up in the template.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Json = dict[str, Any]


def ref(logical_id: str) -> Json:
    return {"Ref": logical_id}


def get_att(logical_id: str, attribute: str) -> Json:
    return {"Fn::GetAtt": [logical_id, attribute]}


def sub(text: str, variables: Mapping[str, Any] | None = None) -> Json:
    return {"Fn::Sub": [text, dict(variables)] if variables else text}


def arn(service: str, resource: str, *, regional: bool = True, account: bool = True) -> Json:
    """`arn:${AWS::Partition}:<service>:${AWS::Region}:${AWS::AccountId}:<resource>` as a Fn::Sub."""
    region = "${AWS::Region}" if regional else ""
    account_id = "${AWS::AccountId}" if account else ""
    return sub(f"arn:${{AWS::Partition}}:{service}:{region}:{account_id}:{resource}")


def s3_arn(bucket: str, key_pattern: str | None = None) -> Json:
    return sub(f"arn:${{AWS::Partition}}:s3:::{bucket}" + (f"/{key_pattern}" if key_pattern is not None else ""))


def resource(resource_type: str, properties: Json, **attributes: Any) -> Json:
    """A resource; extra keyword arguments become resource attributes (DependsOn, DeletionPolicy…)."""
    return {"Type": resource_type, "Properties": properties, **attributes}


def tag_list(tags: Mapping[str, str]) -> list[Json]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def statement(effect: str, actions: Iterable[str], resources: Iterable[Any] | Any,
              condition: Json | None = None, sid: str | None = None,
              principal: Json | str | None = None) -> Json:
    body: Json = {}
    if sid:
        body["Sid"] = sid
    body["Effect"] = effect
    if principal is not None:
        body["Principal"] = principal
    body["Action"] = sorted(set(actions))
    body["Resource"] = list(resources) if isinstance(resources, list | tuple) else resources
    if condition:
        body["Condition"] = condition
    return body


def allow(actions: Iterable[str], resources: Iterable[Any] | Any, condition: Json | None = None,
          sid: str | None = None) -> Json:
    return statement("Allow", actions, resources, condition, sid)


def deny(actions: Iterable[str], resources: Iterable[Any] | Any, condition: Json | None = None,
         sid: str | None = None) -> Json:
    return statement("Deny", actions, resources, condition, sid)


def policy_document(statements: Iterable[Json]) -> Json:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def service_trust(*services: str, condition: Json | None = None) -> Json:
    """Trust policy letting AWS services assume a role (optionally only for this account)."""
    body: Json = {
        "Effect": "Allow",
        "Principal": {"Service": sorted(services)},
        "Action": "sts:AssumeRole",
    }
    if condition:
        body["Condition"] = condition
    return policy_document([body])


def same_account_condition() -> Json:
    """Confused-deputy guard for service principals: only on behalf of this account."""
    return {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
