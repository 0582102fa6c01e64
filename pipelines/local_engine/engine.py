"""Run checked-in state machines for real on moto's Step Functions interpreter, in-process.

Glue job runs call a Python `glue_runner`, SageMaker training/transform jobs run locally with
SageMaker's contracts (`sagemaker_jobs`), SNS alerts land in a local outbox folder, Retry and Wait
never sleep. One moto backend lives as long as the `LocalStepFunctions` context.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.glue.models import FakeJob, FakeJobRun

from pipelines.asl import definition_text, glue_job_names, render_definition
from pipelines.deploy_placeholders import DeployValues
from pipelines.local_engine.alerts import alert_record, write_alert
from pipelines.local_engine.glue_runs import GlueRun, GlueRunner, settle_job_run
from pipelines.local_engine.history import json_safe_event, render_history
from pipelines.local_engine.moto_patches import InterpreterHooks, patched_interpreter
from pipelines.local_engine.sagemaker_jobs import LocalSageMaker, SageMakerRun
from pipelines.local_engine.sagemaker_patches import LocalObject, SageMakerHooks, patched_sagemaker
from pipelines.polling import WaitTimeout, wait_until

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
TERMINAL_STATUSES = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
# Each poll is a DescribeExecution through botocore and moto in this process, on the GIL the jobs'
# driver code needs too: at 50 ms the poller used as much Python CPU as all job code of a demo day
# (py-spy, docs/speed.md). Short executions still end within a few polls of 5, 10, 20... ms.
_FIRST_POLL_SECONDS, _MAX_POLL_SECONDS = 0.005, 0.25

# moto logs every failed state at ERROR with the whole parsed state tree; the same error and cause
# are in the execution history (`ExecutionResult.render_history()`), so it is silenced while active.
_INTERPRETER_LOG = logging.getLogger("moto.stepfunctions.parser")

# Only one engine at a time: moto's backends and the patches are process-wide.
_ACTIVE_ENGINE_LOCK = threading.Lock()


class ExecutionFailedError(RuntimeError):
    """Raised by `ExecutionResult.raise_for_status` for an execution that did not succeed."""


@dataclass
class ExecutionResult:
    name: str
    status: str  # SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    output: Any  # the parsed JSON output (normally a dict); None unless SUCCEEDED
    error: str | None
    cause: str | None
    history: list[dict[str, Any]]  # get_execution_history events, JSON-safe (ISO timestamps)
    retry_delays: list[float]  # seconds each Retry asked to wait, in order
    wait_seconds: list[float] = field(default_factory=list)  # seconds each Wait state asked for
    glue_runs: list[GlueRun] = field(default_factory=list)  # this execution's job runs, in order
    alerts: list[Path] = field(default_factory=list)  # outbox files written for this execution
    elapsed_seconds: float = 0.0
    sagemaker_runs: list[SageMakerRun] = field(default_factory=list)  # this execution's SageMaker jobs, in order

    def render_history(self) -> str:
        return render_history(self.history)

    def raise_for_status(self) -> ExecutionResult:
        if self.status != "SUCCEEDED":
            failed_runs = "".join(
                f"\n  {run.job_name} {run.arguments}: {run.error_message}"
                for run in self.glue_runs
                if run.state != "SUCCEEDED"
            )
            failed_runs += "".join(f"\n  SageMaker {run.kind} {run.name}: {run.failure_reason}"
                                   for run in self.sagemaker_runs if run.status != "Completed")
            raise ExecutionFailedError(
                f"execution {self.name} {self.status}: {self.error}: {self.cause}"
                + (f"\nfailed job runs:{failed_runs}" if failed_runs else "")
                + f"\nhistory:\n{self.render_history()}"
            )
        return self


def _parse_output(output: str | None) -> Any:
    """Execution output is JSON text; moto 5.2.5 returns a bare string result unquoted, kept as is."""
    if not output:
        return None
    try:
        return json.loads(output)
    except json.JSONDecodeError:
        return output


class LocalStepFunctions:
    """Context manager owning one in-process moto (Step Functions, Glue, SNS, SQS, IAM).

    Usage (`run_job(job_name, arguments)` runs the local Glue job, raising on failure)::

        with LocalStepFunctions(glue_runner=run_job, alert_dir=lake / "ops" / "alerts") as engine:
            result = engine.run(
                PIPELINES["ingestion"].definition_path,
                {"BronzeToSilverJobName": "bronze_to_silver", ...},
                {"run_date": "2024-01-03", "run_id": "r1", "datasets": ["customers"]},
                execution_name="ingestion-2024-01-03-r1",
                state_machine_name="ingestion",
            )
        result.raise_for_status()

    `engine.base_substitutions` (AlertTopicArn, StateMachineRoleArn, AwsRegion, AwsAccountId) are
    merged under the caller's substitutions.
    """

    ALERT_TOPIC_NAME = "lakehouse-local-alerts"
    ROLE_NAME = "lakehouse-local-states"

    def __init__(
        self,
        glue_runner: GlueRunner,
        alert_dir: Path,
        region: str = "us-east-1",
        *,
        deterministic_jitter: bool = False,
        glue_max_concurrent_runs: int = 1,
        execution_timeout_seconds: float = 600.0,
        sagemaker: LocalSageMaker | None = None,
    ):
        """`deterministic_jitter`: `JitterStrategy: FULL` delays take their upper bound (tests).
        `glue_max_concurrent_runs`: ExecutionProperty of the Glue jobs the engine creates (AWS's
        default is 1; a Map running one job concurrently beyond it gets ConcurrentRunsExceeded).
        `sagemaker`: runs SageMaker training/transform jobs and serves its S3 mounts to
        `aws-sdk:s3:getObject`; without it a SageMaker job fails saying none is configured."""
        self.glue_runner = glue_runner
        self.alert_dir = Path(alert_dir)
        self.region = region
        self.deterministic_jitter = deterministic_jitter
        self.glue_max_concurrent_runs = glue_max_concurrent_runs
        self.execution_timeout_seconds = execution_timeout_seconds
        self.sagemaker = sagemaker
        self.glue_runs: list[GlueRun] = []
        self.sagemaker_runs: list[SageMakerRun] = []
        self.retry_delays: list[float] = []
        self.wait_seconds: list[float] = []
        self._record_lock = threading.Lock()
        self._mock: Any = None
        self._interpreter_log_level = logging.NOTSET
        self._patches: Any = None
        self.alert_topic_arn = ""
        self.role_arn = ""
        self.sagemaker_role_arn = ""
        self.account_id = ""
        self._alert_queue_url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> LocalStepFunctions:
        if not _ACTIVE_ENGINE_LOCK.acquire(blocking=False):
            raise RuntimeError("another LocalStepFunctions is active; moto and the patches are process-wide")
        try:
            self._mock = mock_aws(config=MOTO_CONFIG)
            self._mock.start()
            self._patches = ExitStack()
            self._patches.enter_context(patched_interpreter(
                InterpreterHooks(
                    run_glue_job=self._run_glue_job,
                    on_retry_delay=self._record(self.retry_delays),
                    on_wait=self._record(self.wait_seconds),
                    jitter_takes_upper_bound=self.deterministic_jitter,
                )
            ))
            self._patches.enter_context(patched_sagemaker(SageMakerHooks(
                run_training_job=self._run_training_job,
                run_transform_job=self._run_transform_job,
                read_local_object=self._read_local_object,
            )))
            self._interpreter_log_level = _INTERPRETER_LOG.level
            _INTERPRETER_LOG.setLevel(logging.CRITICAL)
            self._provision()
        except BaseException:
            self._teardown()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._teardown()

    def _teardown(self) -> None:
        _INTERPRETER_LOG.setLevel(self._interpreter_log_level)
        try:
            if self._patches is not None:
                self._patches.__exit__(None, None, None)
            if self._mock is not None:
                self._mock.stop()
        finally:
            self._patches = self._mock = None
            _ACTIVE_ENGINE_LOCK.release()

    def _client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)

    def _provision(self) -> None:
        """The account-level resources every definition may reference: role, alert topic, outbox."""
        self.account_id = self._client("sts").get_caller_identity()["Account"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "states.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        self.role_arn = self._client("iam").create_role(
            RoleName=self.ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        sagemaker_trust = json.loads(json.dumps(trust).replace("states.amazonaws.com", "sagemaker.amazonaws.com"))
        self.sagemaker_role_arn = self._client("iam").create_role(
            RoleName=self.ROLE_NAME + "-sagemaker", AssumeRolePolicyDocument=json.dumps(sagemaker_trust)
        )["Role"]["Arn"]
        sns, sqs = self._client("sns"), self._client("sqs")
        self.alert_topic_arn = sns.create_topic(Name=self.ALERT_TOPIC_NAME)["TopicArn"]
        self._alert_queue_url = sqs.create_queue(QueueName=self.ALERT_TOPIC_NAME + "-outbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self._alert_queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(TopicArn=self.alert_topic_arn, Protocol="sqs", Endpoint=queue_arn)

    @property
    def base_substitutions(self) -> dict[str, str]:
        deployed = DeployValues(alert_topic_arn=self.alert_topic_arn,
                                sagemaker_execution_role_arn=self.sagemaker_role_arn)
        return {**deployed.substitutions(), "StateMachineRoleArn": self.role_arn, "AwsRegion": self.region,
                "AwsAccountId": self.account_id}

    # -- hooks called from moto's execution threads ---------------------------------------------

    def _record(self, into: list[float]) -> Any:
        def record(seconds: float) -> None:
            with self._record_lock:
                into.append(seconds)

        return record

    def _run_glue_job(self, job: FakeJob, job_run: FakeJobRun) -> None:
        def record(run: GlueRun) -> None:
            with self._record_lock:
                self.glue_runs.append(run)

        settle_job_run(self.glue_runner, job, job_run, record)

    def _record_sagemaker(self, run: SageMakerRun) -> SageMakerRun:
        with self._record_lock:
            self.sagemaker_runs.append(run)
        return run

    def _run_training_job(self, name: str, request: dict[str, Any]) -> SageMakerRun:
        if self.sagemaker is None:
            return self._record_sagemaker(SageMakerRun("training", name, "Failed", "ClientError: no local SageMaker "
                                                       "runner is configured for this engine"))
        return self._record_sagemaker(self.sagemaker.train(name, request))

    def _run_transform_job(self, name: str, request: dict[str, Any], model: dict[str, Any]) -> SageMakerRun:
        if self.sagemaker is None:
            return self._record_sagemaker(SageMakerRun("transform", name, "Failed", "ClientError: no local SageMaker "
                                                       "runner is configured for this engine"))
        return self._record_sagemaker(self.sagemaker.transform(name, request, model))

    def _read_local_object(self, bucket: str, key: str) -> LocalObject | None:
        """An object of a locally mounted bucket (KeyError if absent); None for any other bucket."""
        if self.sagemaker is None or not self.sagemaker.s3.owns_bucket(bucket):
            return None
        path = self.sagemaker.s3.object_path(bucket, key)
        if not path.is_file():
            raise KeyError(key)
        return LocalObject(path.read_bytes(), "application/json" if key.endswith(".json") else "binary/octet-stream")

    # -- deploy and run --------------------------------------------------------------------------

    def deploy(
        self,
        definition: Mapping[str, Any] | str | Path,
        substitutions: Mapping[str, str],
        state_machine_name: str,
    ) -> str:
        """Create or update the state machine (and the Glue jobs it names); return its ARN."""
        self._require_active()
        rendered = render_definition(definition_text(definition), {**self.base_substitutions, **substitutions})
        self._ensure_glue_jobs(glue_job_names(json.loads(rendered)))
        sfn = self._client("stepfunctions")
        existing = {
            machine["name"]: machine["stateMachineArn"]
            for page in sfn.get_paginator("list_state_machines").paginate()
            for machine in page["stateMachines"]
        }
        if state_machine_name in existing:
            arn = existing[state_machine_name]
            if sfn.describe_state_machine(stateMachineArn=arn)["definition"] != rendered:
                sfn.update_state_machine(stateMachineArn=arn, definition=rendered, roleArn=self.role_arn)
            return arn
        return sfn.create_state_machine(name=state_machine_name, definition=rendered, roleArn=self.role_arn)[
            "stateMachineArn"
        ]

    def _ensure_glue_jobs(self, job_names: set[str]) -> None:
        glue = self._client("glue")
        for job_name in sorted(job_names):
            try:
                glue.get_job(JobName=job_name)
            except glue.exceptions.EntityNotFoundException:
                glue.create_job(
                    Name=job_name,
                    Role=self.role_arn,
                    Command={"Name": "glueetl", "ScriptLocation": f"local://{job_name}"},
                    ExecutionProperty={"MaxConcurrentRuns": self.glue_max_concurrent_runs},
                    GlueVersion="5.0",
                )

    def run(
        self,
        definition: Mapping[str, Any] | str | Path,
        substitutions: Mapping[str, str],
        execution_input: Mapping[str, Any],
        execution_name: str,
        state_machine_name: str,
    ) -> ExecutionResult:
        """Deploy, start `execution_name`, wait for it to end and return what happened."""
        state_machine_arn = self.deploy(definition, substitutions, state_machine_name)
        sfn = self._client("stepfunctions")
        if any(
            execution["name"] == execution_name
            for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn)
            for execution in page["executions"]
        ):
            raise ValueError(f"execution {execution_name!r} already exists for state machine {state_machine_name!r}")

        first_retry, first_wait, first_run, first_sagemaker = (
            len(self.retry_delays),
            len(self.wait_seconds),
            len(self.glue_runs),
            len(self.sagemaker_runs),
        )
        started = time.monotonic()
        execution_arn = sfn.start_execution(
            stateMachineArn=state_machine_arn, name=execution_name, input=json.dumps(execution_input)
        )["executionArn"]
        described = self._wait_for_end(sfn, execution_arn)
        elapsed = time.monotonic() - started
        history = [
            json_safe_event(event)
            for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
            for event in page["events"]
        ]
        return ExecutionResult(
            name=execution_name,
            status=described["status"],
            output=_parse_output(described.get("output")),
            error=described.get("error"),
            cause=described.get("cause"),
            history=history,
            retry_delays=self.retry_delays[first_retry:],
            wait_seconds=self.wait_seconds[first_wait:],
            glue_runs=self.glue_runs[first_run:],
            alerts=self._drain_alerts(execution_name, state_machine_name),
            elapsed_seconds=elapsed,
            sagemaker_runs=self.sagemaker_runs[first_sagemaker:],
        )

    def _wait_for_end(self, sfn: Any, execution_arn: str) -> dict[str, Any]:
        try:
            # moto runs the execution on its own thread; poll often at first, then back off
            return wait_until(lambda: sfn.describe_execution(executionArn=execution_arn),
                              lambda described: described["status"] in TERMINAL_STATUSES,
                              what=f"execution {execution_arn}", timeout_seconds=self.execution_timeout_seconds,
                              interval_seconds=_FIRST_POLL_SECONDS, backoff=2.0,
                              max_interval_seconds=_MAX_POLL_SECONDS, describe=lambda described: described["status"])
        except WaitTimeout as timeout:
            sfn.stop_execution(executionArn=execution_arn, error="LocalEngine.Timeout")
            events = sfn.get_execution_history(executionArn=execution_arn)["events"]
            raise TimeoutError(f"{timeout}; stopped.\n"
                               + render_history(json_safe_event(event) for event in events)) from None

    def _drain_alerts(self, execution_name: str, state_machine_name: str) -> list[Path]:
        sqs = self._client("sqs")
        written = []
        while messages := sqs.receive_message(QueueUrl=self._alert_queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in messages:
                record = alert_record(json.loads(message["Body"]), execution_name, state_machine_name)
                written.append(write_alert(self.alert_dir, record))
                sqs.delete_message(QueueUrl=self._alert_queue_url, ReceiptHandle=message["ReceiptHandle"])
        return written

    def _require_active(self) -> None:
        if self._mock is None:
            raise RuntimeError("use LocalStepFunctions as a context manager (`with LocalStepFunctions(...)`)")
