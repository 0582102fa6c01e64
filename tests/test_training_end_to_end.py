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
from jobs.lineage.addresses import name_under
from jobs.tables import lake_table
from pipelines.backfill import LocalTarget, backfill
from pipelines.cli import main as lakehouse
from pipelines.lake_tables import open_local
from pipelines.local_run import DEMO_TRAINING_INPUT, run_model_pipelines
from pipelines.synthetic.generator import generate

START, DAYS, ROWS_PER_DAY = date(2024, 1, 1), 3, 5000  # what `make run` does


@pytest.mark.slow
@pytest.mark.integration
def test_demo_sized_lake_trains_a_model_that_beats_the_baseline_and_scores_the_day(
        spark: SparkSession, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
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
    decision = json.loads(Path(layout.model_version("fraud_model", training.run_id), "decision.json").read_text())
    tables = open_local(tmp_path)
    # the registry names the exact snapshots the model was trained from
    assert decision["data"]["training_set_snapshot"] == tables.load("gold.training_set").metadata.current_snapshot_id
    assert set(decision["data"]["input_snapshots"]) == {"silver.transactions", "silver.customers",
                                                        "gold.customer_features"}
    assert all(tables.load(name).snapshot_by_id(snapshot) is not None
               for name, snapshot in decision["data"]["input_snapshots"].items())
    scores = lake_table(spark, layout, "gold", "fraud_scores").where(f"event_date = '{last.isoformat()}'")
    silver = lake_table(spark, layout, "silver", "transactions").where(
        f"year = '{last:%Y}' and month = '{last:%m}' and day = '{last:%d}'")
    assert scores.count() == silver.count() == scores.select("transaction_id").distinct().count()
    assert scores.join(silver, "transaction_id", "left_anti").count() == 0

    # lineage: the model traces back through its training set snapshot to the bronze files of the datasets
    # it was built from (transactions, customers; never support_tickets), on every date up to the run date
    read = [name_under(layout.bronze, path) for day in dates for dataset in ("transactions", "customers")
            for path in json.loads(Path(layout.job_report("ingestion", day, f"ingestion-{day}",
                                                          f"bronze_to_silver-{dataset}")).read_text())["bronze_files"]]
    assert any("ingest_date=2024-01-02" in path for path in read)  # the training day's files
    capsys.readouterr()  # what the pipelines printed so far
    assert lakehouse(["lineage", "fraud_model", "--lake-root", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"models/fraud_model version {training.run_id}  ← record_model")
    assert f"gold.training_set @ snapshot {decision['data']['training_set_snapshot']}" in printed
    assert "gold.customer_features @ snapshot" in printed
    listed = printed.split("bronze files (", 1)[1].splitlines()[1:]
    assert sorted(line.strip() for line in listed) == sorted(read)
