"""`lakehouse deploy`: package, upload, and apply the stacks through change sets.

    bootstrap stack (KMS key, logs + artifacts buckets)  -- change set, execute, wait
    DR stack, in the DR region (gold's replica, its key)  -- change set, execute, wait
    artifacts (wheel, job launchers, contracts, suites, definitions, the main template) -- upload missing
    main stack (everything else)                          -- change set, execute, wait

`--dry-run` prints each change set and deletes it unexecuted. On a first deployment the bootstrap
stack does not exist yet, so the dry run can only list the main stack's resources from the template.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from infra import changeset
from infra.artifacts import UploadReport, missing, upload
from infra.changeset import DeployError, Printer, ResourceChange, TemplateSource
from infra.packaging import Artifact, ArtifactSet, collect_artifacts, content_key
from infra.settings import DR_REGION, STAGES, CostTags, DeploySettings
from infra.storage import BootstrapOutputs, DrOutputs
from infra.template import bootstrap_template, dataset_names, dr_template, main_template, to_json
from pipelines.registry import GLUE_JOBS, PIPELINES, REPO_ROOT, GlueJobSpec, PipelineSpec

DEFAULT_REGION = "us-east-1"


@dataclass
class StackResult:
    stack_name: str
    outcome: str  # created | updated | unchanged | planned
    changes: list[ResourceChange] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class DeployResult:
    settings: DeploySettings
    bootstrap: StackResult
    main: StackResult
    uploads: UploadReport
    warnings: list[str]
    dr: StackResult | None = None  # None when the stage has no DR region

    @property
    def changed(self) -> bool:
        stacks = [self.bootstrap, self.main] + ([self.dr] if self.dr else [])
        return any(result.outcome in {"created", "updated"} for result in stacks) or bool(self.uploads.uploaded)


def _apply(cfn: Any, stack_name: str, template: TemplateSource, tags: Mapping[str, str], dry_run: bool,
           printer: Printer, poll_seconds: float) -> StackResult:
    plan = changeset.create_change_set(cfn, stack_name, template, tags, printer, poll_seconds=poll_seconds)
    if plan is None:
        printer(f"{stack_name}: nothing to do (the deployed template and tags are identical)")
        outputs = changeset.stack_outputs(cfn, stack_name)
        return StackResult(stack_name, "unchanged", outputs=outputs)
    printer(changeset.format_changes(plan))
    if dry_run:
        changeset.discard(cfn, plan)
        printer(f"{stack_name}: dry run, change set deleted without executing it")
        return StackResult(stack_name, "planned", plan.changes)
    printer(f"{stack_name}: executing the change set")
    status = changeset.execute(cfn, plan, printer, poll_seconds=poll_seconds)
    printer(f"{stack_name}: {status}")
    outcome = "created" if plan.change_set_type == "CREATE" else "updated"
    return StackResult(stack_name, outcome, plan.changes, changeset.stack_outputs(cfn, stack_name))


def _dr_outputs(settings: DeploySettings, outputs: Mapping[str, str]) -> DrOutputs:
    return DrOutputs(region=str(settings.dr_region), kms_key_arn=outputs["DrKmsKeyArn"],
                     gold_bucket=outputs["DrGoldBucketName"])


def _planned_dr_outputs(settings: DeploySettings) -> DrOutputs:
    """Stand-ins for a dry run before the DR stack exists (the plan only lists resources)."""
    return DrOutputs(str(settings.dr_region), f"arn:aws:kms:{settings.dr_region}:{settings.account}:key/created-by-dr",
                     settings.dr_gold_bucket)


def _bootstrap_outputs(outputs: Mapping[str, str]) -> BootstrapOutputs:
    return BootstrapOutputs(kms_key_arn=outputs["KmsKeyArn"], artifacts_bucket=outputs["ArtifactsBucketName"],
                            logs_bucket=outputs["LogsBucketName"])


def _template_artifact(settings: DeploySettings, body: str) -> Artifact:
    data = body.encode()
    return Artifact(content_key("templates", data, f"{settings.stack_name}.json"), data, "application/json")


def _template_url(bucket: str, region: str, key: str) -> str:
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def _print_planned_resources(template: dict[str, Any], printer: Printer) -> None:
    resources = template["Resources"]
    printer(f"Main stack, planned from the template ({len(resources)} resources; a change set needs the "
            "bootstrap stack's key and buckets, so it can only be shown once the bootstrap exists):")
    for logical_id, body in sorted(resources.items()):
        printer(f"  Add  {logical_id}  {body['Type']}")


def deploy(stage: str, region: str | None = None, endpoint_url: str | None = None, dry_run: bool = False, *,
           account: str | None = None, prefix: str = "lakehouse", tags: CostTags | None = None,
           repo_root: Path = REPO_ROOT, glue_jobs: Mapping[str, GlueJobSpec] = GLUE_JOBS,
           pipelines: Mapping[str, PipelineSpec] = PIPELINES, printer: Printer = print,
           poll_seconds: float = 5.0, session: boto3.session.Session | None = None,
           dr_region: str | None = DR_REGION) -> DeployResult:
    """Deploy one stage. `endpoint_url` points every client at an emulator (moto) instead of AWS."""
    session = session or boto3.session.Session()
    region = region or session.region_name or DEFAULT_REGION

    def client(service: str) -> Any:
        return session.client(service, region_name=region, endpoint_url=endpoint_url)

    cfn, s3 = client("cloudformation"), client("s3")
    account = account or client("sts").get_caller_identity()["Account"]
    settings = DeploySettings(stage=stage, account=account, region=region, prefix=prefix,
                              tags=tags or CostTags(), dr_region=dr_region)
    stack_tags = settings.cost_tags()
    printer(f"Deploying {settings.stack_name} to account {account}, region {region}"
            + (f", endpoint {endpoint_url}" if endpoint_url else "") + (" (dry run)" if dry_run else ""))

    artifacts: ArtifactSet = collect_artifacts(repo_root, glue_jobs, pipelines)
    for warning in artifacts.warnings:
        printer(f"warning: {warning}")

    bootstrap_body = to_json(bootstrap_template(settings))
    bootstrap_result = _apply(cfn, settings.bootstrap_stack_name, TemplateSource(bootstrap_body), stack_tags,
                              dry_run, printer, poll_seconds)
    if bootstrap_result.outcome == "planned" and bootstrap_result.changes and \
            changeset.stack_status(cfn, settings.bootstrap_stack_name) is None:
        placeholder = BootstrapOutputs(kms_key_arn=f"arn:aws:kms:{region}:{account}:key/created-by-bootstrap",
                                       artifacts_bucket=settings.bucket_name("artifacts"),
                                       logs_bucket=settings.bucket_name("logs"))
        _print_planned_resources(main_template(settings, placeholder, artifacts, glue_jobs, pipelines,
                                               dataset_names(repo_root),
                                               _planned_dr_outputs(settings) if settings.dr_region else None),
                                 printer)
        printer(f"Would upload all {len(artifacts.all())} artifacts to {placeholder.artifacts_bucket}")
        return DeployResult(settings, bootstrap_result, StackResult(settings.stack_name, "planned"),
                            UploadReport(uploaded=[a.key for a in artifacts.all()]), artifacts.warnings)
    bootstrap = _bootstrap_outputs(bootstrap_result.outputs or changeset.stack_outputs(
        cfn, settings.bootstrap_stack_name))

    dr_result, dr_outputs = None, None
    if settings.dr_region:
        dr_cfn = session.client("cloudformation", region_name=settings.dr_region, endpoint_url=endpoint_url)
        dr_result = _apply(dr_cfn, settings.dr_stack_name, TemplateSource(to_json(dr_template(settings))), stack_tags,
                           dry_run, printer, poll_seconds)
        if changeset.stack_status(dr_cfn, settings.dr_stack_name) is None:
            dr_outputs = _planned_dr_outputs(settings)
        else:
            dr_outputs = _dr_outputs(settings, dr_result.outputs or changeset.stack_outputs(
                dr_cfn, settings.dr_stack_name))

    main_body = to_json(main_template(settings, bootstrap, artifacts, glue_jobs, pipelines,
                                      dataset_names(repo_root), dr_outputs))
    template_artifact = _template_artifact(settings, main_body)
    if dry_run:
        would_upload = missing(s3, bootstrap.artifacts_bucket, artifacts.all())
        printer(f"Would upload {len(would_upload)} of {len(artifacts.all())} artifacts: "
                + (", ".join(a.key for a in would_upload) or "none"))
        uploads = UploadReport(uploaded=[a.key for a in would_upload])
        upload(s3, bootstrap.artifacts_bucket, [template_artifact], bootstrap.kms_key_arn)  # the plan needs it
    else:
        uploads = upload(s3, bootstrap.artifacts_bucket, [*artifacts.all(), template_artifact],
                         bootstrap.kms_key_arn)
        printer(f"Artifacts in s3://{bootstrap.artifacts_bucket}: {uploads.summary()}")
        for key in uploads.uploaded:
            printer(f"  uploaded {key}")
    template = TemplateSource(main_body, _template_url(bootstrap.artifacts_bucket, region, template_artifact.key))
    main_result = _apply(cfn, settings.stack_name, template, stack_tags, dry_run, printer, poll_seconds)

    result = DeployResult(settings, bootstrap_result, main_result, uploads, artifacts.warnings, dr_result)
    if not dry_run and not result.changed:
        printer("Nothing to do: both stacks and every artifact are already up to date.")
    for key, value in sorted(main_result.outputs.items()):
        printer(f"  {key} = {value}")
    return result


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakehouse deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, choices=STAGES)
    parser.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    parser.add_argument("--endpoint-url", help="an AWS emulator (e.g. a moto server) instead of AWS")
    parser.add_argument("--dry-run", action="store_true", help="print the change sets, execute nothing")
    parser.add_argument("--account", help="12-digit account id (default: the caller's, from STS)")
    parser.add_argument("--prefix", default="lakehouse", help="name prefix of every resource")
    parser.add_argument("--dr-region", default=DR_REGION,
                        help=f"region of gold's replica (default {DR_REGION}); 'none': no DR stack, no replication")
    defaults = CostTags()
    parser.add_argument("--team", default=defaults.team)
    parser.add_argument("--project", default=defaults.project)
    parser.add_argument("--cost-center", default=defaults.cost_center)
    parser.add_argument("--poll-seconds", type=float, default=5.0, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        deploy(args.stage, args.region, args.endpoint_url, args.dry_run, account=args.account,
               prefix=args.prefix, tags=CostTags(team=args.team, project=args.project,
                                                 cost_center=args.cost_center),
               poll_seconds=args.poll_seconds,
               dr_region=None if args.dr_region.lower() == "none" else args.dr_region)
    except (DeployError, ValueError) as error:
        print(f"deploy failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
