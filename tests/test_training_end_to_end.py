"""End to end at demo size, everything real: generated bronze → ingestion backfill → training
(Spark training set, SageMaker script-mode training, held-out evaluation, deployment) → batch
inference (scoring input, transform, gold fraud_scores). Minutes, not seconds: marked slow."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs.lake import LakeLayout
from pipelines.backfill import LocalTarget, backfill
from pipelines.local_run import DEMO_TRAINING_INPUT, run_model_pipelines
from pipelines.synthetic.generator import generate

START, DAYS, ROWS_PER_DAY = date(2024, 1, 1), 3, 5000  # what `make run` does


@pytest.mark.slow
@pytest.mark.integration
def test_demo_sized_lake_trains_a_model_that_beats_the_baseline_and_scores_the_day(
        spark: SparkSession, tmp_path: Path) -> None:
    last = START + timedelta(days=DAYS - 1)
    generate(tmp_path, START, DAYS, ROWS_PER_DAY, seed=7, dirty=True)
    dates = [START + timedelta(days=i) for i in range(DAYS)]
    assert backfill("ingestion", tmp_path, dates, target=LocalTarget(tmp_path, spark_factory=lambda: spark)) == 0

    training, batch = run_model_pipelines(tmp_path, last, DEMO_TRAINING_INPUT, spark_factory=lambda: spark)

    assert training.status == "SUCCEEDED", training.error_message
    layout = LakeLayout.from_root(str(tmp_path))
    metrics = json.loads(Path(layout.model_version("fraud_model", training.run_id), "metrics.json").read_text())
    assert metrics["auc"] > metrics["baseline"]["auc"] and metrics["positives"] > 50
    assert batch.status == "SUCCEEDED", batch.error_message
    scores = spark.read.parquet(f"{layout.gold_table('fraud_scores')}/event_date={last.isoformat()}")
    silver = spark.read.parquet(layout.silver_table("transactions")).where(
        f"year = '{last:%Y}' and month = '{last:%m}' and day = '{last:%d}'")
    assert scores.count() == silver.count() == scores.select("transaction_id").distinct().count()
    assert scores.join(silver, "transaction_id", "left_anti").count() == 0
