"""A local deploy target: a moto server on 127.0.0.1 with fixes for moto 5.2.5's CloudFormation and IAM.

moto 5.2.5 (pinned) needs five small corrections (six bugs) to deploy this stack through change sets and to
evaluate its policies:
- `AWS::KMS::Key` with `Tags` crashes (it hands CloudFormation's `Key`/`Value` tags to a tagger that
  expects `TagKey`/`TagValue`), and its `KeyPolicy` is stored as a dictionary where DescribeKey
  expects JSON text (a 500), so tags are translated and the policy is stored as text;
- a stack created or updated by a change set keeps the outputs of its previous template (none for a
  new stack), so the outputs are rebuilt when the change set is applied;
- an `AWS::IAM::Role`'s inline `Policies` are stored as dictionaries where the policy evaluator
  expects JSON text (a 500 on the first request checked against them), so they are stored as text;
- DynamoDB requests are authorised against the resource `*` rather than the table's ARN, so a policy
  scoped to a table (as every policy here is) denies everything; the handler is given the table ARN
  (from `TableName`, or the single table of a batch request), as IAM evaluates it on AWS;
- an `AWS::DynamoDB::Table` loses its encryption (CloudFormation's `SSEEnabled` is read as the API's
  `Enabled`), its point-in-time recovery and its TTL (both ignored), so they are applied as the
  DynamoDB API would.

All are applied in-process, so they only take effect for a server started here (the test fixture,
or `python -m infra.emulator`), never for a separately running moto.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import moto
from moto.cloudformation import models as cloudformation_models
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb import responses as dynamodb_responses
from moto.iam import models as iam_models
from moto.kms import models as kms_models

PATCHED_MOTO_VERSION = "5.2.5"
_patched = False


def apply_moto_fixes() -> None:
    """Idempotently patch moto (only the pinned version, whose internals these fixes match)."""
    global _patched
    if _patched:
        return
    if moto.__version__ != PATCHED_MOTO_VERSION:
        raise RuntimeError(f"infra.emulator fixes moto {PATCHED_MOTO_VERSION}; found {moto.__version__}. "
                           "Check whether the fixes are still needed, then update PATCHED_MOTO_VERSION.")
    create_key = kms_models.Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_key_with_cfn_tags(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                                 region_name: str, **kwargs: Any) -> Any:
        properties = cloudformation_json.get("Properties", {})
        properties["Tags"] = [{"TagKey": tag["Key"], "TagValue": tag["Value"]}
                              for tag in properties.get("Tags", [])]
        if isinstance(properties.get("KeyPolicy"), dict):
            properties["KeyPolicy"] = json.dumps(properties["KeyPolicy"])
        return create_key(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    kms_models.Key.create_from_cloudformation_json = classmethod(create_key_with_cfn_tags)  # type: ignore

    apply_change_set = cloudformation_models.ChangeSet.apply

    def apply_and_refresh_outputs(self: Any) -> None:
        apply_change_set(self)
        self.stack.template = self.template
        self.stack._parse_template()
        self.stack.output_map = self.stack._create_output_map()

    cloudformation_models.ChangeSet.apply = apply_and_refresh_outputs  # type: ignore[method-assign]

    put_role_policy = iam_models.Role.put_policy

    def put_role_policy_as_text(self: Any, policy_name: str, policy_json: Any) -> None:
        text = policy_json if isinstance(policy_json, str) else json.dumps(policy_json)
        put_role_policy(self, policy_name, text)

    iam_models.Role.put_policy = put_role_policy_as_text  # type: ignore[method-assign]

    def dynamodb_table_arn(self: Any) -> str:
        body = getattr(self, "body", None) or {}
        tables = [body["TableName"]] if body.get("TableName") else list(body.get("RequestItems") or {})
        if len(tables) != 1:
            return "*"
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.current_account}:table/{tables[0]}"

    dynamodb_responses.DynamoHandler._determine_resource = dynamodb_table_arn  # type: ignore[attr-defined]

    table_class = dynamodb_models.Table
    create_table = table_class.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_table_with_settings(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
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

    table_class.create_from_cloudformation_json = classmethod(create_table_with_settings)  # type: ignore
    _patched = True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server(port: int | None = None) -> Iterator[str]:
    """Start a patched moto server on 127.0.0.1 and yield its endpoint URL."""
    from moto.server import ThreadedMotoServer

    apply_moto_fixes()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or free_port(), verbose=False)
    server.start()
    try:
        host, bound_port = server.get_host_and_port()
        yield f"http://{host}:{bound_port}"
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a patched moto server to deploy the stack to locally.")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args(argv)
    with moto_server(args.port) as url:
        print(f"moto listening on {url}; deploy with: lakehouse deploy --stage dev --endpoint-url {url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
