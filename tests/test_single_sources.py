"""Facts stated once: the deploy placeholders' names and the SageMaker image URI have one home each,
and every provider (the stack, the local run with its engine, the definition linter) fills them all."""

from __future__ import annotations

from pathlib import Path

import pytest

from infra.orchestration import infrastructure_substitutions
from infra.settings import DeploySettings
from infra.storage import BootstrapOutputs
from pipelines.deploy_placeholders import DEPLOY_PLACEHOLDERS, DeployValues
from pipelines.local_engine import LocalStepFunctions
from pipelines.local_run import local_deploy_values
from pipelines.sagemaker_image import SKLEARN_IMAGE_ACCOUNTS, sklearn_image_uri
from pipelines.validate import SAMPLE_DEPLOY_VALUES

ACCOUNT = "123456789012"


def _settings(region: str = "eu-west-1") -> DeploySettings:
    return DeploySettings(stage="dev", account=ACCOUNT, region=region)


def test_the_placeholder_names_are_the_fields_of_deploy_values() -> None:
    assert list(DEPLOY_PLACEHOLDERS)[:2] == ["AlertTopicArn", "SageMakerExecutionRoleArn"]
    assert DeployValues().substitutions() == {}
    assert DeployValues(stage="dev").substitutions() == {"Stage": "dev"}


def test_the_stack_and_the_linter_fill_every_placeholder() -> None:
    settings = _settings()
    bootstrap = BootstrapOutputs("arn:aws:kms:eu-west-1:123456789012:key/k", settings.bucket_name("artifacts"),
                                 settings.bucket_name("logs"))
    stack = infrastructure_substitutions(settings, bootstrap, ml_source_key="ml/abc/sourcedir.tar.gz")
    assert set(stack) == set(DEPLOY_PLACEHOLDERS) == set(SAMPLE_DEPLOY_VALUES)
    assert stack["SklearnImageUri"] == sklearn_image_uri("eu-west-1")
    assert "SageMakerSourceUri" not in infrastructure_substitutions(settings, bootstrap)


@pytest.mark.integration
def test_the_local_run_and_its_engine_fill_every_placeholder(tmp_path: Path) -> None:
    with LocalStepFunctions(lambda _job, _args: None, alert_dir=tmp_path) as engine:
        local = {**engine.base_substitutions, **local_deploy_values()}
    assert set(DEPLOY_PLACEHOLDERS) <= set(local)
    assert local["SklearnImageUri"] == SAMPLE_DEPLOY_VALUES["SklearnImageUri"] == sklearn_image_uri("us-east-1")


def test_the_image_uri_is_built_per_region_and_an_unknown_region_is_refused() -> None:
    assert sklearn_image_uri("us-west-2") == (
        f"{SKLEARN_IMAGE_ACCOUNTS['us-west-2']}.dkr.ecr.us-west-2.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3")
    with pytest.raises(ValueError, match=r"'mars-north-1'.*SKLEARN_IMAGE_ACCOUNTS in pipelines/sagemaker_image.py"):
        _settings("mars-north-1").sklearn_image_uri()
