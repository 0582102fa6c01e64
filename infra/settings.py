"""Who and where a deployment is for: stage, name prefix, account, region, cost tags, and every name.

All physical names are derived here so that the template, the deploy, the catalog registration and
the docs agree: buckets `<prefix>-<stage>-<layer>-<account>`, everything else `<prefix>-<stage>-...`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from pipelines.sagemaker_image import sklearn_image_uri

STAGES = ("dev", "staging", "prod")
DATA_LAYERS = ("bronze", "silver", "gold")

_PREFIX_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,19}$")
_ACCOUNT_PATTERN = re.compile(r"^\d{12}$")


@dataclass(frozen=True)
class GlueCapacity:
    worker_type: str  # G.1X (4 vCPU, 16 GB) or G.2X (8 vCPU, 32 GB)
    workers: int  # one of them is the Spark driver


# prod is sized for the seed's 100 GB of bronze a day within the 1-hour window: docs/benchmarks.md,
# "Sizing", from throughput measured by `make bench` (the arithmetic is bench/sizing.py).
PROD_GLUE_CAPACITY: dict[str, GlueCapacity] = {
    "bronze_to_silver": GlueCapacity("G.1X", 10),
    "silver_to_gold": GlueCapacity("G.1X", 6),
}


@dataclass(frozen=True)
class StageProfile:
    """What differs between stages; everything else is identical by construction."""

    log_retention_days: int
    schedules_enabled: bool  # dev runs on demand; scheduled runs there only cost money
    retain_data_on_delete: bool  # buckets and the key survive a stack deletion
    # Glue worker type and count per job; a job not named takes its registry default (GlueJobSpec).
    glue_capacity: Mapping[str, GlueCapacity] = field(default_factory=dict)

    def capacity_of(self, job: str, default: GlueCapacity) -> GlueCapacity:
        return self.glue_capacity.get(job, default)


STAGE_PROFILES: dict[str, StageProfile] = {
    "dev": StageProfile(log_retention_days=30, schedules_enabled=False, retain_data_on_delete=False),
    "staging": StageProfile(log_retention_days=90, schedules_enabled=True, retain_data_on_delete=True),
    "prod": StageProfile(log_retention_days=365, schedules_enabled=True, retain_data_on_delete=True,
                         glue_capacity=PROD_GLUE_CAPACITY),
}

# Disaster recovery: gold is replicated to this region (RPO 1 hour, RTO 4 hours; see docs/governance.md).
DR_REGION = "us-west-2"
REPLICATION_TIME_MINUTES = 15  # S3 Replication Time Control's one setting: well inside the 1-hour RPO
# Layers whose object reads and writes CloudTrail records as data events (S3 access logs cover all).
AUDITED_LAYERS = ("silver", "gold")
# The quarantine alarm fires when a run quarantines at least this percentage of its bronze rows.
QUARANTINE_ALARM_PERCENT = 5

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
    dr_region: str | None = DR_REGION  # None: no DR stack, no replication
    audited_layers: tuple[str, ...] = AUDITED_LAYERS
    quarantine_alarm_percent: int = QUARANTINE_ALARM_PERCENT

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {self.stage!r}")
        if not _PREFIX_PATTERN.match(self.prefix):
            raise ValueError(f"prefix must match {_PREFIX_PATTERN.pattern} (it names S3 buckets), "
                             f"got {self.prefix!r}")
        if not _ACCOUNT_PATTERN.match(self.account):
            raise ValueError(f"account must be 12 digits, got {self.account!r}")
        if self.dr_region == self.region:
            raise ValueError(f"the DR region must differ from the primary region ({self.region})")
        unknown = set(self.audited_layers) - set(DATA_LAYERS)
        if unknown:
            raise ValueError(f"audited_layers must be among {', '.join(DATA_LAYERS)}, got {sorted(unknown)}")
        if not 0 < self.quarantine_alarm_percent <= 100:
            raise ValueError(f"quarantine_alarm_percent must be in 1..100, got {self.quarantine_alarm_percent}")

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
    def dr_stack_name(self) -> str:
        return self.name("dr")

    @property
    def dr_gold_bucket(self) -> str:
        """Gold's replica in the DR region (bucket names are global: it cannot reuse gold's)."""
        return self.bucket_name("gold-dr")

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
        return sklearn_image_uri(self.region)

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
