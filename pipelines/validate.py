"""`lakehouse validate`: check every registered state-machine definition before it is run or deployed.

Three independent checks, each reported with the state and the rule it breaks:

1. `statelint`, the Amazon States Language linter, on the definition with its placeholders
   rendered (as CloudFormation renders them).
2. moto's Step Functions parser (`create_state_machine`), which rejects what AWS's API rejects
   (bad ARNs, BackoffRate, unknown fields...).
3. Project rules:
   - `known-placeholder`: every `${Name}` is a job placeholder of the pipeline in the registry or
     a deploy placeholder (`deploy_placeholders.DEPLOY_PLACEHOLDERS`);
   - `known-glue-job`: every Glue task names its job through a registry placeholder that maps to
     a registered Glue job listed in the pipeline's `glue_jobs`;
   - `sync-task-retry`: every `.sync` task retries, and every retrier backs off exponentially
     (BackoffRate > 1) up to a MaxDelaySeconds, with JitterStrategy FULL;
   - `sync-task-catch-alerts`: every `.sync` task catches States.ALL into a path that publishes an
     SNS alert (directly, or through Pass states). Two exemptions: a task inside a Map or Parallel
     may leave catching to the enclosing state (which must itself catch into an alert), and a
     task on the failure path (reachable from an alert) may catch straight to a Fail state.

`asl-validator` (npm) is not used: the project installs nothing from npm.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines import asl
from pipelines.asl import Scope
from pipelines.deploy_placeholders import DEPLOY_PLACEHOLDERS, DeployValues
from pipelines.registry import GLUE_JOBS, PIPELINES, GlueJobSpec, PipelineSpec
from pipelines.sagemaker_image import sklearn_image_uri

DEFINITION_LEVEL = "(definition)"

RULES: dict[str, str] = {
    "json": "the definition is a JSON object",
    "statelint": "the Amazon States Language linter reports nothing",
    "moto-parser": "Step Functions' parser (moto's) accepts the definition",
    "known-placeholder": "every ${Name} is a registry job placeholder of the pipeline or a deploy placeholder",
    "known-glue-job": "every Glue task names a registered job of the pipeline through a registry placeholder",
    "sync-task-retry": "every .sync task retries with exponential backoff (BackoffRate > 1), MaxDelaySeconds "
                       "and JitterStrategy FULL",
    "sync-task-catch-alerts": "every .sync task catches States.ALL into an SNS alert (its own Catch or its "
                              "enclosing Map/Parallel's; on the failure path a Catch may go straight to Fail)",
}

# Values that render a definition for the linters; the shapes matter (ARNs, names), not the values.
SAMPLE_DEPLOY_VALUES: dict[str, str] = DeployValues(
    alert_topic_arn="arn:aws:sns:us-east-1:123456789012:lakehouse-dev-alerts",
    sagemaker_execution_role_arn="arn:aws:iam::123456789012:role/lakehouse-dev-sagemaker-execution",
    artifacts_bucket="lakehouse-dev-artifacts-123456789012",
    sagemaker_source_uri="s3://lakehouse-dev-artifacts-123456789012/ml/0123456789abcdef/sourcedir.tar.gz",
    bronze_bucket="lakehouse-dev-bronze-123456789012",
    silver_bucket="lakehouse-dev-silver-123456789012",
    gold_bucket="lakehouse-dev-gold-123456789012",
    glue_database="lakehouse_dev",
    stage="dev",
    name_prefix="lakehouse-dev-",
    sklearn_image_uri=sklearn_image_uri(),
).substitutions()


@dataclass(frozen=True)
class Problem:
    definition: str
    state: str
    rule: str
    message: str

    def __str__(self) -> str:
        where = "the definition" if self.state == DEFINITION_LEVEL else f"state {self.state!r}"
        return f"{self.definition}: {where} breaks rule {self.rule}: {self.message}"


def leads_to_alert(states: dict[str, Any], name: str | None) -> bool:
    """The state publishes an SNS alert, or Pass states lead to one."""
    seen: set[str] = set()
    while name is not None and name not in seen:
        seen.add(name)
        state = states.get(name)
        if asl.is_alert(state):
            return True
        if not state or state.get("Type") != "Pass":
            return False
        name = state.get("Next")
    return False


def failure_path(scope: Scope) -> set[str]:
    """States reachable from an alert in this scope (everything after an alert has been sent);
    every state of a scope whose enclosing state is itself on its failure path."""
    if scope.enclosing is not None:
        name, _, parent = scope.enclosing
        if name in failure_path(parent):
            return set(scope.states)
    reached: set[str] = set()
    frontier = [n for n, s in scope.states.items() if asl.is_alert(s)]
    while frontier:
        name = frontier.pop()
        for target in asl.transitions(scope.states.get(name, {})):
            if target not in reached:
                reached.add(target)
                frontier.append(target)
    return reached


def check_retry(label: str, name: str, state: dict[str, Any]) -> list[Problem]:
    retriers = asl.retriers(state)
    if not retriers:
        return [Problem(label, name, "sync-task-retry", "the .sync task has no Retry")]
    problems = []
    for index, retrier in enumerate(retriers):
        errors = ", ".join(retrier.get("ErrorEquals") or [])
        missing = []
        if float(retrier.get("BackoffRate", 2.0)) <= 1.0:
            missing.append("BackoffRate > 1")
        if "MaxDelaySeconds" not in retrier:
            missing.append("MaxDelaySeconds")
        if retrier.get("JitterStrategy") != "FULL":
            missing.append("JitterStrategy FULL")
        if missing:
            problems.append(Problem(label, name, "sync-task-retry",
                                    f"retrier #{index + 1} ({errors}) lacks {', '.join(missing)}"))
    return problems


def check_catch(label: str, name: str, state: dict[str, Any], scope: Scope) -> list[Problem]:
    catcher = asl.catch_all(state)
    if catcher is not None:
        target = catcher.get("Next")
        if leads_to_alert(scope.states, target):
            return []
        if name in failure_path(scope) and (scope.states.get(target) or {}).get("Type") == "Fail":
            return []
        return [Problem(label, name, "sync-task-catch-alerts",
                        f"its States.ALL Catch goes to {target!r}, which does not publish an SNS alert"
                        + ("" if name in failure_path(scope) else " (only a task on the failure path, after an "
                           "alert, may catch straight to a Fail state)"))]
    if asl.catchers(state):
        return [Problem(label, name, "sync-task-catch-alerts", "its Catch does not cover States.ALL")]
    if scope.enclosing is not None:
        parent_name, parent, parent_scope = scope.enclosing
        if not check_catch(label, parent_name, parent, parent_scope):
            return []
        return [Problem(label, name, "sync-task-catch-alerts",
                        f"no Catch, and the enclosing {parent.get('Type')} {parent_name!r} does not catch into an "
                        "alert either")]
    return [Problem(label, name, "sync-task-catch-alerts", "the .sync task has no Catch")]


def sync_task_problems(label: str, definition: dict[str, Any]) -> list[Problem]:
    problems = []
    for scope in asl.scopes(definition):
        for name, state in scope.states.items():
            if asl.is_sync_task(state):
                problems += check_retry(label, name, state)
                problems += check_catch(label, name, state, scope)
    return problems


def _states_using(definition: dict[str, Any], text: str) -> list[str]:
    return asl.states_using(definition, text) or [DEFINITION_LEVEL]


def registry_problems(label: str, definition: dict[str, Any], spec: PipelineSpec,
                      glue_jobs: Mapping[str, GlueJobSpec], deploy_placeholders: Mapping[str, str]) -> list[Problem]:
    problems = []
    known = set(spec.placeholders) | set(deploy_placeholders)
    for placeholder in sorted(asl.placeholders(definition) - known):
        for state in _states_using(definition, "${" + placeholder + "}"):
            problems.append(Problem(label, state, "known-placeholder",
                                    f"${{{placeholder}}} is neither a job placeholder of pipeline {spec.name!r} "
                                    f"({', '.join(sorted(spec.placeholders))}) nor a deploy placeholder"))
    for placeholder, job in sorted(spec.placeholders.items()):
        if job not in glue_jobs or job not in spec.glue_jobs:
            for state in _states_using(definition, "${" + placeholder + "}"):
                problems.append(Problem(label, state, "known-glue-job",
                                        f"${{{placeholder}}} maps to {job!r}, which is not a registered Glue job of "
                                        f"pipeline {spec.name!r}"))
    for name, state in asl.glue_tasks(definition).items():
        job_name = str(asl.task_parameters(state).get("JobName", ""))
        if asl.placeholder_name(job_name) not in spec.placeholders:
            problems.append(Problem(label, name, "known-glue-job",
                                    f"JobName {job_name!r} is not a registry job placeholder of pipeline "
                                    f"{spec.name!r}"))
    return problems


def rendered(text: str, spec: PipelineSpec) -> str:
    values = {**SAMPLE_DEPLOY_VALUES, **{p: f"lakehouse-dev-{job}" for p, job in spec.placeholders.items()}}
    return asl.substitute(text, lambda name: values.get(name, f"unknown-{name}"))


def statelint_problems(label: str, text: str) -> list[Problem]:
    from statelint.config import Config
    from statelint.linter import Linter

    problems = []
    for message in Linter.validate(text, Config()):
        state = re.search(r"State Machine\.(?:States\.)?([A-Za-z0-9_-]+)", message)
        problems.append(Problem(label, state.group(1) if state else DEFINITION_LEVEL, "statelint", message))
    return problems


def _state_named_in(message: str, text: str) -> str:
    """The state a parser message is about: named outright, or the Task whose Resource it quotes."""
    named = re.search(r"state '([^']+)'|State '([^']+)'", message)
    if named:
        return next(g for g in named.groups() if g)
    resource = re.search(r"arn:aws:states:::[A-Za-z0-9:._-]+", message)
    if resource:
        return asl.state_with_resource(json.loads(text), resource.group(0).rstrip(":.")) or DEFINITION_LEVEL
    return DEFINITION_LEVEL


def _refuse_to_run(*_args: Any) -> Any:
    raise AssertionError("validation never runs a job")


def moto_parser_problems(label: str, text: str) -> list[Problem]:
    """moto's parser, with the local SageMaker integration installed so that an unknown SageMaker
    action is rejected as AWS rejects it (stock moto forwards any `sagemaker:*` name)."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from pipelines.local_engine.sagemaker_patches import SageMakerHooks, patched_sagemaker

    hooks = SageMakerHooks(_refuse_to_run, _refuse_to_run, _refuse_to_run)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), patched_sagemaker(hooks):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        try:
            client.create_state_machine(name="validate", definition=text,
                                        roleArn="arn:aws:iam::123456789012:role/validate")
        except ClientError as error:
            message = error.response["Error"]["Message"].split(" in definition '", 1)[0]
            return [Problem(label, _state_named_in(message, text), "moto-parser", message)]
    return []


def validate_definition(label: str, text: str, spec: PipelineSpec, glue_jobs: Mapping[str, GlueJobSpec] = GLUE_JOBS,
                        deploy_placeholders: Mapping[str, str] = DEPLOY_PLACEHOLDERS) -> list[Problem]:
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as error:
        return [Problem(label, DEFINITION_LEVEL, "json", str(error))]
    if not isinstance(definition, dict):
        return [Problem(label, DEFINITION_LEVEL, "json", "the definition is not a JSON object")]
    problems = registry_problems(label, definition, spec, glue_jobs, deploy_placeholders)
    problems += sync_task_problems(label, definition)
    concrete = rendered(text, spec)
    problems += statelint_problems(label, concrete)
    problems += moto_parser_problems(label, concrete)
    return problems


def validate_pipelines(pipelines: Mapping[str, PipelineSpec] = PIPELINES,
                       glue_jobs: Mapping[str, GlueJobSpec] = GLUE_JOBS) -> list[Problem]:
    problems = []
    for name, spec in sorted(pipelines.items()):
        problems += validate_definition(f"{spec.definition_file} ({name})", spec.definition_path.read_text(), spec,
                                        glue_jobs)
    return problems


def report(problems: Sequence[Problem], checked: int) -> str:
    if not problems:
        return f"OK: {checked} state machine definition(s) pass statelint, moto's parser and the project rules"
    lines = [str(problem) for problem in problems]
    lines.append(f"{len(problems)} problem(s). Rules: " + "; ".join(
        f"{rule}: {RULES[rule]}" for rule in sorted({p.rule for p in problems})))
    return "\n".join(lines)
