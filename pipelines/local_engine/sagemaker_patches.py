"""The patches that let moto's Step Functions interpreter run SageMaker steps locally.

moto 5.2.5 forwards `arn:aws:states:::sagemaker:*` tasks as plain API calls and rejects `.sync`
(the execution fails before any Catch), records training and transform jobs as `Completed` without
running anything, overwrites a training job's MetricDefinitions with its own, accepts duplicate
names AWS refuses, and has no UpdateEndpoint. Each patch is a `MotoPatch` in `SAGEMAKER_PATCHES`
(listed with the others in `moto_registry`), active only inside `patched_sagemaker()`:

* `state_task_factory.state_task_service_for`: `sagemaker` tasks get `StateTaskServiceSageMaker`,
  which supports request-response calls and `.sync` for createTrainingJob/createTransformJob
  (polling DescribeTrainingJob/DescribeTransformJob as Step Functions does; a Failed or Stopped
  job fails the task with `States.TaskFailed` and the description as Cause; API errors fail it
  with `SageMaker.<name>`, see `sagemaker_error_name`).
* `SageMakerModelBackend.create_training_job` / `create_transform_job`: after moto records the
  job, the engine's hook runs it (`sagemaker_jobs.LocalSageMaker`) and the job is settled with
  its real status, FailureReason, FinalMetricDataList and artifacts; the requested
  MetricDefinitions are kept. A transform job for an unknown model is refused, as on AWS.
* `create_training_job`, `create_transform_job`, `create_model`, `create_endpoint_config`,
  `create_endpoint`: an existing name is refused with AWS's ValidationException.
* `SageMakerModelBackend.update_endpoint` and `SageMakerResponse.update_endpoint` (added): switch an
  InService endpoint to another existing endpoint config in one step (the blue/green switch).
* `StateTaskServiceAwsSdk._eval_service_task`: `aws-sdk:s3:getObject` on a bucket mounted locally
  reads the lake's file (see `sagemaker_paths.LocalS3`); any other call goes to moto unchanged.

The moto version guard runs first: importing this package imports `moto_patches` before this module.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import (
    FakeEndpoint,
    FakeEndpointConfig,
    FakeTrainingJob,
    FakeTransformJob,
    Model,
    SageMakerModelBackend,
)
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import (
    CustomErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
    StateTaskServiceAwsSdk,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from pipelines.local_engine.moto_patches import WRITTEN_FOR, sync_integration_pattern, to_json_safe
from pipelines.local_engine.moto_seam import MotoPatch, applied
from pipelines.local_engine.sagemaker_jobs import SageMakerRun

# Request-response actions the local integration forwards; `.sync` only for the job-creating ones.
REQUEST_RESPONSE_ACTIONS = {"createtrainingjob", "createtransformjob", "createmodel", "createendpointconfig",
                            "createendpoint", "updateendpoint"}
# action -> (describe call, name parameter, status field)
SYNC_ACTIONS: dict[str, tuple[str, str, str]] = {
    "createtrainingjob": ("describe_training_job", "TrainingJobName", "TrainingJobStatus"),
    "createtransformjob": ("describe_transform_job", "TransformJobName", "TransformJobStatus"),
}
RUNNING_STATUSES = {"InProgress", "Stopping"}
# SageMaker's modelled exceptions keep their name; anything else is AmazonSageMakerException, as the
# Java SDK behind Step Functions reports it (e.g. ValidationException, ThrottlingException).
MODELLED_ERRORS = {"ResourceInUse": "ResourceInUseException", "ResourceLimitExceeded": "ResourceLimitExceededException",
                   "ResourceNotFound": "ResourceNotFoundException", "ConflictException": "ConflictException"}


def sagemaker_error_name(error_code: str) -> str:
    return "SageMaker." + MODELLED_ERRORS.get(error_code, "AmazonSageMakerException")


@dataclass(frozen=True)
class LocalObject:
    body: bytes
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class SageMakerHooks:
    """What the patched backend calls (on moto's execution threads)."""

    run_training_job: Callable[[str, dict[str, Any]], SageMakerRun]  # (job name, CreateTrainingJob request)
    run_transform_job: Callable[[str, dict[str, Any], dict[str, Any]], SageMakerRun]  # (+ the model)
    # (bucket, key) -> the object, None when the bucket is not mounted locally; raises KeyError if absent.
    read_local_object: Callable[[str, str], LocalObject | None]


# -- the Step Functions integration -----------------------------------------------------------------

class StateTaskServiceSageMaker(StateTaskServiceCallback):
    """`arn:aws:states:::sagemaker:<action>[.sync]` as AWS's optimized integration behaves."""

    def __init__(self) -> None:
        super().__init__(supported_integration_patterns={ResourceCondition.Sync})

    def _validate_service_integration_is_supported(self) -> None:
        action = self.resource.api_action.lower()
        if action not in REQUEST_RESPONSE_ACTIONS:
            raise ValueError(f"The resource provided {self.resource.resource_arn} not recognized by the local "
                             f"SageMaker integration (supported: {', '.join(sorted(REQUEST_RESPONSE_ACTIONS))}).")
        if self.resource.condition == ResourceCondition.Sync and action not in SYNC_ACTIONS:
            raise ValueError(f"{self.resource.resource_arn}: .sync is supported for createTrainingJob and "
                             "createTransformJob only.")

    def _client(self, resource_runtime_part: Any, state_credentials: Any) -> Any:
        return boto_client_for(service="sagemaker", region=resource_runtime_part.region,
                               state_credentials=state_credentials)

    def _from_error(self, env: Any, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            error_name = sagemaker_error_name(ex.response["Error"]["Code"])
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(error_name),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    error=error_name,
                    cause=f"{ex.response['Error']['Message']} (Service: SageMaker, "
                          f"Error Code: {ex.response['Error']['Code']})",
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                )),
            )
        return super()._from_error(env=env, ex=ex)

    def _eval_service_task(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                           state_credentials: Any) -> None:
        client = self._client(resource_runtime_part, state_credentials)
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        env.stack.append(to_json_safe(response))

    _eval_integration_pattern = sync_integration_pattern  # the .sync branch, no task-token endpoint

    def _build_sync_resolver(self, env: Any, resource_runtime_part: Any, normalised_parameters: dict,
                             state_credentials: Any) -> Callable[[], Any]:
        describe, name_key, status_key = SYNC_ACTIONS[self.resource.api_action.lower()]
        env.stack.pop()  # the Create* response; the job is found by the requested name
        client = self._client(resource_runtime_part, state_credentials)
        name = normalised_parameters[name_key]

        def resolver() -> Any:
            described = getattr(client, describe)(**{name_key: name})
            described.pop("ResponseMetadata", None)
            if described[status_key] in RUNNING_STATUSES:
                return None
            safe = to_json_safe(described)
            if described[status_key] == "Completed":
                return safe
            raise FailureEventException(FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                event_type=HistoryEventType.TaskFailed,
                event_details=EventDetails(taskFailedEventDetails=TaskFailedEventDetails(
                    resource=self._get_sfn_resource(),
                    resourceType=self._get_sfn_resource_type(),
                    error=StatesErrorNameType.StatesTaskFailed.to_name(),
                    cause=to_json_str(safe),
                )),
            ))

        return resolver


def _service_factory(original: Callable[..., Any]) -> Callable[..., Any]:
    def state_task_service_for(service_name: str) -> Any:
        if service_name == "sagemaker":
            return StateTaskServiceSageMaker()
        return original(service_name=service_name)

    return state_task_service_for


# -- the SageMaker backend --------------------------------------------------------------------------

def _refuse_existing(backend: SageMakerModelBackend, collection: dict, name: str, kind: str, message: str) -> None:
    if name in collection:
        arn = arn_formatter(kind, name, backend.account_id, backend.region_name)
        raise ValidationError(message=message.format(arn=arn))


def _settle_training(job: FakeTrainingJob, run: SageMakerRun, metric_definitions: list[dict[str, str]]) -> None:
    now = utcnow()
    job.algorithm_specification["MetricDefinitions"] = metric_definitions
    job.training_job_status = run.status
    job.secondary_status = {"Completed": "Completed", "Stopped": "MaxRuntimeExceeded"}.get(run.status, "Failed")
    job.failure_reason = run.failure_reason
    job.final_metric_data_list = [{"MetricName": name, "Value": value, "Timestamp": now}
                                  for name, value in sorted(run.metrics.items())]
    job.training_end_time = job.last_modified_time = now
    job.training_time_in_seconds = job.billable_time_in_seconds = max(1, round(run.seconds))
    job.secondary_status_transitions = [
        *job.secondary_status_transitions,
        {"Status": job.secondary_status, "StartTime": job.training_start_time, "EndTime": now,
         "StatusMessage": run.failure_reason or "Training job completed"},
    ]
    if run.status != "Completed":
        job.model_artifacts = None


def _create_training_job(original: Callable[..., FakeTrainingJob], hooks: SageMakerHooks) -> Callable[..., Any]:
    def create_training_job(self: SageMakerModelBackend, **kwargs: Any) -> FakeTrainingJob:
        name = kwargs["training_job_name"]
        _refuse_existing(self, self.training_jobs, name, "training-job",
                         "Training job names must be unique within an AWS account and region, and a training "
                         "job with this name already exists ({arn})")
        request = {
            "TrainingJobName": name,
            "HyperParameters": dict(kwargs.get("hyper_parameters") or {}),
            "AlgorithmSpecification": copy.deepcopy(kwargs.get("algorithm_specification") or {}),
            "InputDataConfig": copy.deepcopy(kwargs.get("input_data_config") or []),
            "OutputDataConfig": dict(kwargs.get("output_data_config") or {}),
            "ResourceConfig": dict(kwargs.get("resource_config") or {}),
            "StoppingCondition": dict(kwargs.get("stopping_condition") or {}),
        }
        job = original(self, **kwargs)
        _settle_training(job, hooks.run_training_job(name, request),
                         request["AlgorithmSpecification"].get("MetricDefinitions") or [])
        return job

    return create_training_job


def _create_transform_job(original: Callable[..., FakeTransformJob], hooks: SageMakerHooks) -> Callable[..., Any]:
    def create_transform_job(self: SageMakerModelBackend, **kwargs: Any) -> FakeTransformJob:
        name = kwargs["transform_job_name"]
        _refuse_existing(self, self.transform_jobs, name, "transform-job",
                         "Transform job names must be unique within an AWS account and region, and a transform "
                         "job with this name already exists ({arn})")
        model: Model | None = self._models.get(kwargs["model_name"])
        if model is None:
            arn = arn_formatter("model", kwargs["model_name"], self.account_id, self.region_name)
            raise ValidationError(message=f'Could not find model "{arn}".')
        request = {
            "TransformJobName": name,
            "ModelName": kwargs["model_name"],
            "BatchStrategy": kwargs.get("batch_strategy") or "MultiRecord",
            "MaxPayloadInMB": kwargs.get("max_payload_in_mb"),
            "TransformInput": copy.deepcopy(kwargs.get("transform_input") or {}),
            "TransformOutput": copy.deepcopy(kwargs.get("transform_output") or {}),
        }
        job = original(self, **kwargs)
        run = hooks.run_transform_job(name, request, {"ModelName": model.model_name,
                                                      "PrimaryContainer": copy.deepcopy(model.primary_container)})
        job.transform_job_status = run.status
        job.failure_reason = run.failure_reason or ""
        job.transform_end_time = job.last_modified_time = utcnow()
        return job

    return create_transform_job


def _refusing_duplicates(original: Callable[..., Any], collection: str, name_argument: str, kind: str,
                         what: str) -> Callable[..., Any]:
    def create(self: SageMakerModelBackend, *args: Any, **kwargs: Any) -> Any:
        name = kwargs.get(name_argument, args[0] if args else None)
        message = f'Cannot create already existing {what} "{{arn}}".'
        _refuse_existing(self, getattr(self, collection), name, kind, message)
        return original(self, *args, **kwargs)

    return create


def _backend_update_endpoint(self: SageMakerModelBackend, endpoint_name: str, endpoint_config_name: str,
                             **_options: Any) -> FakeEndpoint:
    endpoint: FakeEndpoint | None = self.endpoints.get(endpoint_name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
        raise ValidationError(message=f'Could not find endpoint "{arn}".')
    if endpoint.endpoint_status != "InService":
        raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
    config: FakeEndpointConfig | None = self.endpoint_configs.get(endpoint_config_name)
    if config is None:
        arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
        raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
    # Locally the new fleet is ready at once, so the switch is immediate and atomic.
    endpoint.endpoint_config_name = endpoint_config_name
    endpoint.production_variants = endpoint._process_production_variants(config.production_variants)
    endpoint.last_modified_time = utcnow()
    return endpoint


def _response_update_endpoint(self: SageMakerResponse) -> ActionResult:
    endpoint = self.sagemaker_backend.update_endpoint(
        endpoint_name=self._get_param("EndpointName"),
        endpoint_config_name=self._get_param("EndpointConfigName"),
        deployment_config=self._get_param("DeploymentConfig"),
        retain_all_variant_properties=self._get_param("RetainAllVariantProperties", False),
    )
    return ActionResult({"EndpointArn": endpoint.arn})


# -- aws-sdk:s3:getObject on the local lake --------------------------------------------------------

def _aws_sdk_reading_local_objects(original: Callable[..., None], hooks: SageMakerHooks) -> Callable[..., None]:
    def _eval_service_task(self: StateTaskServiceAwsSdk, env: Any, resource_runtime_part: Any,
                           normalised_parameters: dict, state_credentials: Any) -> None:
        if self._get_boto_service_name() == "s3" and self._get_boto_service_action() == "get_object":
            bucket, key = normalised_parameters.get("Bucket", ""), normalised_parameters.get("Key", "")
            try:
                found = hooks.read_local_object(bucket, key)
            except KeyError:
                error = {"Code": "NoSuchKey", "Message": f"The specified key does not exist: {key}"}
                raise ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": 404, "RequestId": "local"}},
                                  "GetObject") from None
            if found is not None:
                env.stack.append({
                    "Body": found.body.decode("utf-8"),
                    "ContentLength": len(found.body),
                    "ContentType": found.content_type,
                    "ETag": '"' + hashlib.md5(found.body, usedforsecurity=False).hexdigest() + '"',
                })
                return
        original(self, env, resource_runtime_part, normalised_parameters, state_credentials)

    return _eval_service_task


def _sagemaker_patch(name: str, target: Any, attribute: str, fixes: str, replacement: Callable[[Any, Any], Any],
                     adds: bool = False) -> MotoPatch:
    return MotoPatch(name=name, target=target, attribute=attribute, fixes=fixes, written_for=WRITTEN_FOR,
                     replacement=replacement, adds=adds)


def _duplicate_refusal(method: str, collection: str, argument: str, kind: str, what: str) -> MotoPatch:
    return _sagemaker_patch(
        f"sagemaker-{kind}-name-unique", SageMakerModelBackend, method,
        f"moto accepts a second {what} with an existing name (AWS refuses it with ValidationException)",
        lambda original, _hooks: _refusing_duplicates(original, collection, argument, kind, what))


SAGEMAKER_PATCHES: tuple[MotoPatch, ...] = (
    _sagemaker_patch(
        "sagemaker-step-functions-integration", state_task_factory, "state_task_service_for",
        "sagemaker:* tasks are plain API calls and .sync is rejected (the execution fails before any Catch); "
        "the local integration supports request-response and .sync for createTrainingJob/createTransformJob",
        lambda original, _hooks: _service_factory(original)),
    _sagemaker_patch(
        "sagemaker-training-job-runs", SageMakerModelBackend, "create_training_job",
        "moto records a training job as Completed without running it, overwrites its MetricDefinitions and "
        "accepts a duplicate name; the engine's hook runs it and settles status, metrics and artifacts",
        lambda original, hooks: _create_training_job(original, hooks)),
    _sagemaker_patch(
        "sagemaker-transform-job-runs", SageMakerModelBackend, "create_transform_job",
        "moto records a transform job as Completed without running it, even for an unknown model; the "
        "engine's hook runs it and an unknown model is refused as on AWS",
        lambda original, hooks: _create_transform_job(original, hooks)),
    _duplicate_refusal("create_model", "_models", "model_name", "model", "model"),
    _duplicate_refusal("create_endpoint_config", "endpoint_configs", "endpoint_config_name", "endpoint-config",
                       "endpoint configuration"),
    _duplicate_refusal("create_endpoint", "endpoints", "endpoint_name", "endpoint", "endpoint"),
    _sagemaker_patch(
        "sagemaker-update-endpoint-backend", SageMakerModelBackend, "update_endpoint",
        "moto has no UpdateEndpoint (the blue/green switch); added: an InService endpoint switches to another "
        "existing endpoint config in one step",
        lambda _original, _hooks: _backend_update_endpoint, adds=True),
    _sagemaker_patch(
        "sagemaker-update-endpoint-api", SageMakerResponse, "update_endpoint",
        "the UpdateEndpoint API action for sagemaker-update-endpoint-backend",
        lambda _original, _hooks: _response_update_endpoint, adds=True),
    _sagemaker_patch(
        "aws-sdk-get-object-reads-the-lake", StateTaskServiceAwsSdk, "_eval_service_task",
        "an extension, not a bug: aws-sdk:s3:getObject on a bucket mounted on the local lake reads the lake's "
        "file (moto's S3 does not hold it); any other call goes to moto unchanged",
        lambda original, hooks: _aws_sdk_reading_local_objects(original, hooks)),
)


@contextmanager
def patched_sagemaker(hooks: SageMakerHooks) -> Iterator[None]:
    """Apply every SageMaker patch for the duration of the block; moto is restored on exit."""
    with applied(SAGEMAKER_PATCHES, hooks):
        yield
