"""Create, show, execute or discard CloudFormation change sets, and wait for them with progress.

Nothing is ever applied without a change set: the change set is the reviewable plan (printed as a
table), and `--dry-run` stops after it. "Nothing to do" is decided twice: before creating a change
set (the deployed template and tags equal the new ones) and after (CloudFormation reports that the
change set "didn't contain changes").
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError, WaiterError

from jobs.text_table import render_table
from pipelines.polling import WaitTimeout, wait_until

Printer = Callable[[str], None]

SUCCESS_STATUSES = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE"}
FAILURE_STATUSES = {"CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "DELETE_COMPLETE",
                    "DELETE_FAILED", "UPDATE_FAILED", "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED",
                    "IMPORT_ROLLBACK_COMPLETE", "IMPORT_ROLLBACK_FAILED"}
NO_CHANGE_REASONS = ("didn't contain changes", "No updates are to be performed")


class DeployError(RuntimeError):
    """A change set or a stack operation failed; the message carries CloudFormation's reason."""


@dataclass(frozen=True)
class ResourceChange:
    action: str
    logical_id: str
    resource_type: str
    replacement: str


@dataclass
class ChangeSetPlan:
    stack_name: str
    change_set_id: str
    change_set_type: str  # CREATE or UPDATE
    changes: list[ResourceChange] = field(default_factory=list)


@dataclass(frozen=True)
class TemplateSource:
    """The template as a body (small, bootstrap) or as an S3 URL (up to 1 MB, the main stack)."""

    body: str
    url: str | None = None

    def as_params(self) -> dict[str, str]:
        return {"TemplateURL": self.url} if self.url else {"TemplateBody": self.body}


def stack_status(cfn: Any, stack_name: str) -> str | None:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    return stacks[0]["StackStatus"] if stacks else None


def stack_outputs(cfn: Any, stack_name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {item["OutputKey"]: item["OutputValue"] for item in stack.get("Outputs", [])}


def _as_dict(body: Any) -> Any:
    if isinstance(body, str):
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            return body
    return json.loads(json.dumps(body))


def is_unchanged(cfn: Any, stack_name: str, template_body: str, tags: Mapping[str, str]) -> bool:
    """True when the deployed template and stack tags are exactly the new ones."""
    deployed = cfn.get_template(StackName=stack_name, TemplateStage="Original")["TemplateBody"]
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    deployed_tags = {tag["Key"]: tag["Value"] for tag in stack.get("Tags", [])}
    return _as_dict(deployed) == json.loads(template_body) and deployed_tags == dict(tags)


def _wait_for_change_set(cfn: Any, change_set_id: str, poll_seconds: float, timeout_seconds: float) -> dict:
    """The change set once CloudFormation has finished computing it (CREATE_COMPLETE or FAILED)."""
    attempts = max(1, math.ceil(timeout_seconds / poll_seconds))
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=change_set_id, WaiterConfig={"Delay": poll_seconds, "MaxAttempts": attempts})
    except WaiterError as error:
        described = error.last_response or {}
        if described.get("Status") in {"FAILED", "DELETE_COMPLETE"}:
            return described  # the caller tells "no changes" from a real failure by its reason
        raise DeployError(f"change set {change_set_id} still {described.get('Status', '?')} after "
                          f"{timeout_seconds}s ({error})") from error
    return cfn.describe_change_set(ChangeSetName=change_set_id)


def _changes(cfn: Any, change_set_id: str, first_page: dict) -> list[ResourceChange]:
    page, changes = first_page, []
    while True:
        for change in page.get("Changes", []):
            detail = change.get("ResourceChange", {})
            changes.append(ResourceChange(
                action=detail.get("Action", "?"), logical_id=detail.get("LogicalResourceId", "?"),
                resource_type=detail.get("ResourceType", "?"),
                replacement=detail.get("Replacement") or "-"))
        token = page.get("NextToken")
        if not token:
            return changes
        page = cfn.describe_change_set(ChangeSetName=change_set_id, NextToken=token)


def create_change_set(cfn: Any, stack_name: str, template: TemplateSource, tags: Mapping[str, str],
                      printer: Printer, poll_seconds: float = 2.0, timeout_seconds: float = 600.0,
                      compare_first: bool = True) -> ChangeSetPlan | None:
    """A ready change set for the stack, or None when there is nothing to change.

    `compare_first=False` skips the local comparison and relies on CloudFormation alone.
    """
    status = stack_status(cfn, stack_name)
    if status == "ROLLBACK_COMPLETE":
        # A first creation that failed leaves an empty stack that can only be deleted.
        printer(f"{stack_name}: deleting the empty stack left by a failed first creation")
        cfn.delete_stack(StackName=stack_name)
        cfn.get_waiter("stack_delete_complete").wait(
            StackName=stack_name, WaiterConfig={"Delay": max(1, int(poll_seconds)), "MaxAttempts": 360})
        status = None
    change_set_type = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    if compare_first and change_set_type == "UPDATE" and is_unchanged(cfn, stack_name, template.body, tags):
        return None
    name = f"{stack_name}-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    created = cfn.create_change_set(
        StackName=stack_name, ChangeSetName=name, ChangeSetType=change_set_type,
        Capabilities=["CAPABILITY_NAMED_IAM"], Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        Description=f"lakehouse deploy {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC", **template.as_params())
    described = _wait_for_change_set(cfn, created["Id"], poll_seconds, timeout_seconds)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if any(marker in reason for marker in NO_CHANGE_REASONS):
            cfn.delete_change_set(ChangeSetName=created["Id"])
            return None
        raise DeployError(f"change set for {stack_name} failed: {reason}")
    return ChangeSetPlan(stack_name, created["Id"], change_set_type, _changes(cfn, created["Id"], described))


def format_changes(plan: ChangeSetPlan) -> str:
    """A readable table: action, logical id, type, replacement."""
    rows = [(c.action, c.logical_id, c.resource_type, c.replacement) for c in plan.changes]
    return (f"Change set for stack {plan.stack_name} ({plan.change_set_type}, {len(plan.changes)} changes):\n"
            + render_table(("Action", "Logical ID", "Type", "Replacement"), rows, indent=2))


def discard(cfn: Any, plan: ChangeSetPlan) -> None:
    """Delete an unexecuted change set (and the empty stack a CREATE change set made)."""
    cfn.delete_change_set(ChangeSetName=plan.change_set_id)
    if plan.change_set_type == "CREATE" and stack_status(cfn, plan.stack_name) == "REVIEW_IN_PROGRESS":
        cfn.delete_stack(StackName=plan.stack_name)


def execute(cfn: Any, plan: ChangeSetPlan, printer: Printer, poll_seconds: float = 5.0,
            timeout_seconds: float = 3600.0) -> str:
    """Execute the change set and print stack events until the stack settles; returns its status."""
    started = datetime.now(UTC)
    cfn.execute_change_set(ChangeSetName=plan.change_set_id)
    seen: set[str] = set()

    def status_after_printing_events() -> str:
        status = stack_status(cfn, plan.stack_name) or "DELETE_COMPLETE"
        for event in _new_events(cfn, plan.stack_name, seen, started):
            reason = f"  {event['ResourceStatusReason']}" if event.get("ResourceStatusReason") else ""
            printer(f"  {event['Timestamp']:%H:%M:%S}  {event['ResourceStatus']:<20} "
                    f"{event['LogicalResourceId']} ({event['ResourceType']}){reason}")
        return status

    # Not botocore's stack waiters: the stack's events are printed while it settles.
    try:
        status = wait_until(status_after_printing_events, lambda s: s in SUCCESS_STATUSES | FAILURE_STATUSES,
                            what=f"stack {plan.stack_name}", timeout_seconds=timeout_seconds,
                            interval_seconds=poll_seconds, describe=str)
    except WaitTimeout as timeout:
        raise DeployError(str(timeout)) from None
    if status in FAILURE_STATUSES:
        raise DeployError(f"stack {plan.stack_name} ended {status}; see the events above")
    return status


def _new_events(cfn: Any, stack_name: str, seen: set[str], since: datetime) -> list[dict]:
    """Events of this operation not printed yet (CloudFormation lists them newest first)."""
    events = []
    cutoff = since.replace(microsecond=0)
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_name):
        for event in page["StackEvents"]:
            timestamp = event["Timestamp"]
            if timestamp.tzinfo is None:
                timestamp = timestamp.replace(tzinfo=UTC)
            if timestamp < cutoff:
                return sorted(events, key=lambda e: e["Timestamp"])
            if event["EventId"] not in seen:
                seen.add(event["EventId"])
                events.append(event)
    return sorted(events, key=lambda e: e["Timestamp"])
