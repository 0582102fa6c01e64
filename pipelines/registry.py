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
    max_concurrent_runs: int = 1  # Glue's ExecutionProperty; a state machine running it in a Map needs more


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    definition_file: str  # under state_machines/
    description: str
    # What starts it on AWS: an EventBridge schedule expression (UTC), or `triggered_by`: the pipeline
    # whose SUCCEEDED execution starts this one with its output (the run date is taken from there).
    schedule: str | None
    glue_jobs: tuple[str, ...]
    placeholders: dict[str, str] = field(default_factory=dict)  # ${Name} -> glue job logical name
    triggered_by: str | None = None
    # True when a date's run reads nothing an earlier date's run writes, so backfills may run dates at once.
    independent_dates: bool = False

    def __post_init__(self) -> None:
        if (self.schedule is None) == (self.triggered_by is None):
            raise ValueError(f"pipeline {self.name!r}: give exactly one of schedule and triggered_by")

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
            # the ingestion state machine promotes a wave's datasets at once (PromoteWave's MaxConcurrency)
            max_concurrent_runs=4,
        ),
        GlueJobSpec(
            name="silver_to_gold",
            module="jobs.silver_to_gold",
            description="Build the gold tables (customer features, daily merchant metrics) as of a run date.",
            number_of_workers=4,
        ),
        GlueJobSpec(
            name="materialize_features",
            module="jobs.materialize_features",
            description="Write the run date's gold customer_features to the online store (DynamoDB), each item "
                        "conditional on as_of_date so an older backfill never overwrites a newer value.",
            timeout_minutes=30,
        ),
        GlueJobSpec(
            name="training_set",
            module="jobs.training_set",
            description="Build the fraud model's point-in-time training set (gold training_set: train and "
                        "held-out windows) for a run date.",
            number_of_workers=4,
        ),
        GlueJobSpec(
            name="evaluate_model",
            module="jobs.ml.evaluate_model",
            description="Score the held-out window with a trained model, the baselines and the deployed model; "
                        "write the version's metrics.json.",
            timeout_minutes=30,
        ),
        GlueJobSpec(
            name="drift_baseline",
            module="jobs.ml.drift_baseline",
            description="Record a trained model version's drift baseline (training-split feature profiles, held-out "
                        "score profile) in its registry folder.",
            timeout_minutes=30,
        ),
        GlueJobSpec(
            name="record_model",
            module="jobs.ml.record_model",
            description="Record a model version's deployment (deployed.json, deployed artifact) or rejection.",
            timeout_minutes=10,
        ),
        GlueJobSpec(
            name="scoring_input",
            module="jobs.scoring_input",
            description="Build the day's batch-inference input (gold scoring_input) from silver and gold features.",
        ),
        GlueJobSpec(
            name="store_scores",
            module="jobs.store_scores",
            description="Check the batch transform's scores and publish them to gold fraud_scores for the day.",
        ),
        GlueJobSpec(
            name="feature_drift",
            module="jobs.feature_drift",
            description="Measure the day's feature and score drift against the deployed model's training baseline "
                        "into gold feature_drift; HTML report; alert when a threshold is crossed.",
            timeout_minutes=30,
        ),
        GlueJobSpec(
            name="maintain_tables",
            module="jobs.maintain_tables",
            description="Maintain every Iceberg table: delete rows past retention, compact small files, expire "
                        "old snapshots keeping a minimum, remove orphan files.",
            timeout_minutes=120,
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
            description="Bronze → silver for every dataset, then the gold tables, then the online feature store.",
            schedule="cron(30 23 * * ? *)",  # daily 23:30 UTC: processes that UTC day's ingest date
            glue_jobs=("bronze_to_silver", "silver_to_gold", "materialize_features", "finalize_run"),
            placeholders={
                "BronzeToSilverJobName": "bronze_to_silver",
                "SilverToGoldJobName": "silver_to_gold",
                "MaterializeFeaturesJobName": "materialize_features",
                "FinalizeRunJobName": "finalize_run",
            },
        ),
        PipelineSpec(
            name="training",
            definition_file="training.asl.json",
            description="Train the fraud model on gold features, evaluate it on a later window, deploy it if it "
                        "beats the bar, the baseline and the deployed model.",
            # Weekly, Sundays 05:00 UTC. The run date is the scheduled date, whose ingestion runs at 23:30:
            # the held-out window therefore ends with Saturday's data, the last day ingested.
            schedule="cron(0 5 ? * SUN *)",
            glue_jobs=("training_set", "evaluate_model", "drift_baseline", "record_model", "finalize_run"),
            placeholders={
                "TrainingSetJobName": "training_set",
                "EvaluateModelJobName": "evaluate_model",
                "DriftBaselineJobName": "drift_baseline",
                "RecordModelJobName": "record_model",
                "FinalizeRunJobName": "finalize_run",
            },
        ),
        PipelineSpec(
            name="batch_inference",
            definition_file="batch_inference.asl.json",
            description="Score the day's transactions with the deployed fraud model into gold fraud_scores.",
            # Daily, as soon as that day's ingestion has SUCCEEDED (never on a failed or partial day).
            schedule=None,
            triggered_by="ingestion",
            glue_jobs=("scoring_input", "store_scores", "feature_drift", "finalize_run"),
            placeholders={
                "ScoringInputJobName": "scoring_input",
                "StoreScoresJobName": "store_scores",
                "FeatureDriftJobName": "feature_drift",
                "FinalizeRunJobName": "finalize_run",
            },
            independent_dates=True,
        ),
        PipelineSpec(
            name="maintenance",
            definition_file="maintenance.asl.json",
            description="Keep every table healthy by the table format: retention of rows, compaction, snapshot "
                        "expiry, orphan files.",
            # Daily 03:00 UTC: after the 23:30 ingestion and its batch inference, before Sunday's 05:00
            # training. A commit racing a run's is caught by Iceberg's validation and retried by the loser.
            schedule="cron(0 3 * * ? *)",
            glue_jobs=("maintain_tables", "finalize_run"),
            placeholders={
                "MaintainTablesJobName": "maintain_tables",
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


def max_concurrent_job_runs() -> int:
    """The most concurrent runs any Glue job allows (the local engine creates its jobs with this)."""
    return max(spec.max_concurrent_runs for spec in GLUE_JOBS.values())
