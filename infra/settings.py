"""Who and where a deployment is for: stage, name prefix, account, region, cost tags, and every name.

All physical names are derived here so that the template, the deploy, the catalog registration and
the docs agree: buckets `<prefix>-<stage>-<layer>-<account>`, everything else `<prefix>-<stage>-...`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STAGES = ("dev", "staging", "prod")
DATA_LAYERS = ("bronze", "silver", "gold")

_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
_ACCOUNT_PATTERN = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class StageProfile:
    """What differs between stages; everything else is identical by construction."""

    log_retention_days: int
    schedules_enabled: bool  # dev runs on demand; scheduled runs there only cost money
    retain_data_on_delete: bool  # buckets and the key survive a stack deletion


STAGE_PROFILES: dict[str, StageProfile] = {
    "dev": StageProfile(log_retention_days=30, schedules_enabled=False, retain_data_on_delete=False),
    "staging": StageProfile(log_retention_days=90, schedules_enabled=True, retain_data_on_delete=True),
    "prod": StageProfile(log_retention_days=365, schedules_enabled=True, retain_data_on_delete=True),
}

# Days after which objects expire, per bucket (the retention: bronze 90 d, silver 1 y, gold 3 y).
LAYER_RETENTION_DAYS: dict[str, int] = {"bronze": 90, "silver": 365, "gold": 3 * 365}


@dataclass(frozen=True)
class CostTags:
    team: str = "data-platform"
    project: str = "lakehouse"
    cost_center: str = "CC-0000"


@dataclass(frozen=True)
class DeploySettings:
    stage: str
    account: str
    region: str = "us-east-1"
    prefix: str = "lakehouse"
    tags: CostTags = field(default_factory=CostTags)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if not _PREFIX_PATTERN.match(self.prefix):
            raise ValueError(f"prefix must match {_PREFIX_PATTERN.pattern} (it names S3 buckets), "
                             f"got {self.prefix!r}")
        if not _ACCOUNT_PATTERN.match(self.account):
            raise ValueError(f"account must be 12 digits, got {self.account!r}")

    @property
    def profile(self) -> StageProfile:
        return STAGE_PROFILES[self.stage]

    # -- names ---------------------------------------------------------------------------------
    def name(self, suffix: str) -> str:
        """`<prefix>-<stage>-<suffix>`: Glue jobs, roles, state machines, topics, alarms."""
        return f"{self.prefix}-{self.stage}-{suffix}"

    def bucket_name(self, purpose: str) -> str:
        """A bucket per layer (bronze/silver/gold) plus `artifacts` and `logs`; globally unique."""
        return f"{self.prefix}-{self.stage}-{purpose}-{self.account}"

    @property
    def bootstrap_stack_name(self) -> str:
        return self.name("bootstrap")

    @property
    def stack_name(self) -> str:
        return f"{self.prefix}-{self.stage}"

    @property
    def glue_database(self) -> str:
        # Glue and Athena prefer lower-case names with underscores.
        return f"{self.prefix}_{self.stage}".replace("-", "_")

    def glue_job_name(self, logical_name: str) -> str:
        return self.name(logical_name)

    def sklearn_image_uri(self) -> str:
        """The region's SageMaker scikit-learn image (training and serving); unknown regions stop the build."""
        account = SKLEARN_IMAGE_ACCOUNTS.get(self.region)
        if account is None:
            raise ValueError(f"no SageMaker scikit-learn image account known for region {self.region!r}: add it to "
                             "SKLEARN_IMAGE_ACCOUNTS in infra/settings.py (see the SageMaker docs' Docker registry "
                             f"paths); known regions: {', '.join(sorted(SKLEARN_IMAGE_ACCOUNTS))}")
        return f"{account}.dkr.ecr.{self.region}.amazonaws.com/sagemaker-scikit-learn:{SKLEARN_IMAGE_TAG}"

    def state_machine_name(self, pipeline: str) -> str:
        return self.name(pipeline)

    @property
    def pii_key_secret_name(self) -> str:
        return f"{self.prefix}/{self.stage}/pii-tokenization-key"

    @property
    def online_table(self) -> str:
        """The online feature store's DynamoDB table (gold customer_features by customer_id)."""
        return self.name("customer-features")

    def lake_roots(self) -> dict[str, str]:
        """The S3 roots the jobs receive; quarantine holds raw rows, so it lives beside bronze."""
        return {
            "bronze_root": f"s3://{self.bucket_name('bronze')}/",
            "silver_root": f"s3://{self.bucket_name('silver')}/",
            "gold_root": f"s3://{self.bucket_name('gold')}/",
            "quarantine_root": f"s3://{self.bucket_name('bronze')}/{QUARANTINE_PREFIX}",
            "ops_root": f"s3://{self.bucket_name('artifacts')}/{OPS_PREFIX}",
        }

    def cost_tags(self) -> dict[str, str]:
        return {
            "Team": self.tags.team,
            "Project": self.tags.project,
            "Environment": self.stage,
            "CostCenter": self.tags.cost_center,
        }


def catalog_table_name(layer: str, name: str) -> str:
    """Glue Data Catalog table for a silver dataset or gold table: `silver_customers`, `gold_daily_metrics`."""
    return f"{layer}_{name}"


# Key prefixes inside buckets that policies grant on separately.
QUARANTINE_PREFIX = "quarantine/"
OPS_PREFIX = "ops/"
GLUE_TEMP_PREFIX = "tmp/glue/"
MODELS_PREFIX = "ops/models/"  # the model registry (jobs.lake.LakeLayout.model_registry)
ML_SOURCE_PREFIX = "ml/"  # SageMaker script-mode source directories (sourcedir.tar.gz)
# What Glue jobs read from the artifacts bucket.
JOB_ARTIFACT_PREFIXES = ("scripts/", "wheels/", "contracts/", "expectations/")

# SageMaker's scikit-learn framework image: its 1.2-1 tag serves the project's scikit-learn pin
# (jobs/ml/requirements.txt is installed over it). ECR accounts per region, from AWS's registry paths.
SKLEARN_IMAGE_TAG = "1.2-1-cpu-py3"
SKLEARN_IMAGE_ACCOUNTS = {
    "us-east-1": "683313688378",
    "us-east-2": "257758044811",
    "us-west-1": "746614075791",
    "us-west-2": "246618743249",
    "eu-west-1": "141502667606",
    "eu-west-2": "764974769150",
}
