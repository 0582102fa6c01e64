"""SageMaker's scikit-learn framework image, the one container the training and serving steps use.

Its 1.2-1 tag serves the project's scikit-learn pin (jobs/ml/requirements.txt is installed over it).
The ECR account differs per region (AWS's documented Docker registry paths). The deployment, the
local engine and the definition linter all take the URI from here.
"""

from __future__ import annotations

SKLEARN_IMAGE_NAME = "sagemaker-scikit-learn"
SKLEARN_IMAGE_TAG = "1.2-1-cpu-py3"
SKLEARN_IMAGE_ACCOUNTS = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
}
LOCAL_REGION = "us-east-1"  # the region the local engine and the linter render definitions for


def sklearn_image_uri(region: str = LOCAL_REGION) -> str:
    """The region's scikit-learn image URI; an unknown region is an error naming where to add it."""
    account = SKLEARN_IMAGE_ACCOUNTS.get(region)
    if account is None:
        raise ValueError(f"no SageMaker scikit-learn image account known for region {region!r}: add it to "
                         f"SKLEARN_IMAGE_ACCOUNTS in {__name__.replace('.', '/')}.py (see the SageMaker docs' Docker "
                         f"registry paths); known regions: {', '.join(sorted(SKLEARN_IMAGE_ACCOUNTS))}")
    return f"{account}.dkr.ecr.{region}.amazonaws.com/{SKLEARN_IMAGE_NAME}:{SKLEARN_IMAGE_TAG}"
