"""Local Step Functions engine: checked-in ASL executed by moto's interpreter, Glue routed to Python,
SageMaker jobs run locally with SageMaker's script-mode and inference-handler contracts.

Importing this package checks that moto is exactly the version pyproject.toml pins; every moto patch
is listed in `moto_registry` and applied only while its context is active.
"""

from pipelines.asl import UnresolvedPlaceholderError, render_definition
from pipelines.local_engine.engine import ExecutionFailedError, ExecutionResult, LocalStepFunctions
from pipelines.local_engine.glue_runs import GlueRun, GlueRunner, TransientGlueError
from pipelines.local_engine.history import render_history
from pipelines.local_engine.moto_seam import (
    PINNED_MOTO_VERSION,
    UnsupportedMotoVersion,
    require_moto_version,
)
from pipelines.local_engine.sagemaker_jobs import LocalSageMaker, SageMakerRun
from pipelines.local_engine.sagemaker_paths import LocalS3, UnmappedS3UriError

__all__ = [
    "PINNED_MOTO_VERSION",
    "ExecutionFailedError",
    "ExecutionResult",
    "GlueRun",
    "GlueRunner",
    "LocalS3",
    "LocalSageMaker",
    "LocalStepFunctions",
    "SageMakerRun",
    "TransientGlueError",
    "UnmappedS3UriError",
    "UnresolvedPlaceholderError",
    "UnsupportedMotoVersion",
    "render_definition",
    "render_history",
    "require_moto_version",
]
