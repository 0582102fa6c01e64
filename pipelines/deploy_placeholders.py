"""The `${Placeholder}`s the deployment provides to every state machine besides its Glue job names.

Each placeholder's name is written once, here; the stack (infra/orchestration.py), the local run
(pipelines/local_run.py, and the engine's own ARNs) and the definition linter (pipelines/validate.py)
fill a `DeployValues` and take `.substitutions()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def _placeholder(name: str, about: str) -> dict[str, str]:
    return {"placeholder": name, "about": about}


@dataclass(frozen=True)
class DeployValues:
    """One value per deploy placeholder; None where this caller does not provide it."""

    alert_topic_arn: Any = field(default=None, metadata=_placeholder(
        "AlertTopicArn", "the SNS alert topic"))
    sagemaker_execution_role_arn: Any = field(default=None, metadata=_placeholder(
        "SageMakerExecutionRoleArn", "the role SageMaker jobs and models run as"))
    artifacts_bucket: Any = field(default=None, metadata=_placeholder(
        "ArtifactsBucket", "the artifacts bucket: ops/ (manifests, alerts, model registry)"))
    sagemaker_source_uri: Any = field(default=None, metadata=_placeholder(
        "SageMakerSourceUri", "S3 URI of the SageMaker source directory (jobs/ml as sourcedir.tar.gz, "
        "content-addressed)"))
    bronze_bucket: Any = field(default=None, metadata=_placeholder(
        "BronzeBucket", "the bronze layer's bucket"))
    silver_bucket: Any = field(default=None, metadata=_placeholder(
        "SilverBucket", "the silver layer's bucket"))
    gold_bucket: Any = field(default=None, metadata=_placeholder(
        "GoldBucket", "the gold layer's bucket"))
    glue_database: Any = field(default=None, metadata=_placeholder(
        "GlueDatabase", "the Glue Data Catalog database"))
    stage: Any = field(default=None, metadata=_placeholder(
        "Stage", "the deployment stage (dev, staging, prod)"))
    name_prefix: Any = field(default=None, metadata=_placeholder(
        "NamePrefix", "`<prefix>-<stage>-`, the prefix of every SageMaker resource name (IAM is scoped to it)"))
    sklearn_image_uri: Any = field(default=None, metadata=_placeholder(
        "SklearnImageUri", "the region's SageMaker scikit-learn container image URI"))

    def substitutions(self) -> dict[str, Any]:
        """`{placeholder: value}` for every value given."""
        return {spec.metadata["placeholder"]: getattr(self, spec.name) for spec in fields(self)
                if getattr(self, spec.name) is not None}


# placeholder -> what it stands for
DEPLOY_PLACEHOLDERS: dict[str, str] = {spec.metadata["placeholder"]: spec.metadata["about"]
                                       for spec in fields(DeployValues)}
