"""The pipeline registry: pipeline → state machine → Glue jobs → schedule.

One place that the local engine, the CLI, backfills and the infra module all read, so a job or a
pipeline is declared once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STATE_MACHINE_DIR = REPO_ROOT / "state_machines"


@dataclass(frozen=True)
class GlueJobSpec:
    """A Glue job: the module under `jobs/` whose `main()` is the Glue script entry point."""

    name: str  # logical name; deployed as `<prefix>-<stage>-<name>`
    module: str  # e.g. "jobs.bronze_to_silver"
    description: str
    worker_type: str = "G.1X"
    number_of_workers: int = 2
    timeout_minutes: int = 60
    max_retries: int = 0  # retries belong to the state machine, which knows what is transient
    job_type: str = "glueetl"  # Glue's Python shell runs Python 3.9, too old for this library
    needs_spark: bool = True  # False: run() ignores its SparkSession (locally none is started for it)


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    definition_file: str  # under state_machines/
    description: str
    schedule: str  # EventBridge schedule expression (UTC)
    glue_jobs: tuple[str, ...]
    placeholders: dict[str, str] = field(default_factory=dict)  # ${Name} -> glue job logical name

    @property
    def definition_path(self) -> Path:
        return STATE_MACHINE_DIR / self.definition_file


GLUE_JOBS: dict[str, GlueJobSpec] = {
    spec.name: spec
    for spec in (
        GlueJobSpec(
            name="bronze_to_silver",
            module="jobs.bronze_to_silver",
            description="Promote one dataset's bronze ingest date to silver (typed, deduplicated, PII masked).",
            number_of_workers=4,
        ),
        GlueJobSpec(
            name="silver_to_gold",
            module="jobs.silver_to_gold",
            description="Build the gold tables (customer features, daily merchant metrics) as of a run date.",
            number_of_workers=4,
        ),
        GlueJobSpec(
            name="finalize_run",
            module="jobs.finalize_run",
            description="Assemble the run manifest from the jobs' reports and record the run's status.",
            needs_spark=False,
            timeout_minutes=10,
        ),
    )
}

PIPELINES: dict[str, PipelineSpec] = {
    spec.name: spec
    for spec in (
        PipelineSpec(
            name="ingestion",
            definition_file="ingestion.asl.json",
            description="Bronze → silver for every dataset, then the gold tables.",
            schedule="cron(30 23 * * ? *)",  # daily 23:30 UTC: processes that UTC day's ingest date
            glue_jobs=("bronze_to_silver", "silver_to_gold", "finalize_run"),
            placeholders={
                "BronzeToSilverJobName": "bronze_to_silver",
                "SilverToGoldJobName": "silver_to_gold",
                "FinalizeRunJobName": "finalize_run",
            },
        ),
    )
}


def glue_job_for_name(job_name: str) -> GlueJobSpec:
    """Map a deployed or local job name (`lakehouse-dev-bronze_to_silver` or `bronze_to_silver`)."""
    for spec in GLUE_JOBS.values():
        if job_name == spec.name or job_name.endswith("-" + spec.name):
            return spec
    raise KeyError(f"unknown Glue job {job_name!r}; known: {', '.join(sorted(GLUE_JOBS))}")
