"""The shipped suites against what the pipeline really produces: synthetic bronze (with its flaws)
through bronze_to_silver, then the gold builders. Clean promoted data must pass without routing rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from jobs import bronze_to_silver
from jobs.contracts import load_contract
from jobs.gold.embeddings import spend_profiles, with_embedding
from jobs.gold.features import customer_features
from jobs.gold.merchant_metrics import daily_merchant_metrics
from jobs.quality import GateResult, run_quality_gate
from jobs.tables import lake_table
from pipelines.synthetic.generator import generate

pytestmark = [pytest.mark.slow, pytest.mark.integration]

DAY = date(2024, 3, 1)
DATASETS = ("customers", "transactions", "support_tickets")


@pytest.fixture(scope="module")
def lake(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("pipeline_lake")
    generate(root, DAY, 1, 300, seed=5, dirty=True)
    for dataset in DATASETS:
        bronze_to_silver.run(spark, {"dataset": dataset, "run_date": DAY.isoformat(), "lake_root": str(root),
                                     "run_id": "run-1"})
    yield root


def _gate(spark: SparkSession, df: DataFrame, lake: Path, layer: str, suite: str) -> GateResult:
    contract = load_contract(suite) if layer == "silver" else None
    return run_quality_gate(spark, df, suite=suite, layer=layer, contract=contract, run_date=DAY.isoformat(),
                            run_id="run-1", ops_root=str(lake / "ops"), build_docs=False,
                            now=datetime(2024, 3, 2, 3, tzinfo=UTC))


@pytest.mark.parametrize("dataset", DATASETS)
def test_promoted_silver_passes_its_suite(spark: SparkSession, lake: Path, dataset: str) -> None:
    silver = lake_table(spark, lake, "silver", dataset)
    result = _gate(spark, silver, lake, "silver", dataset)
    assert result.passed, [f.describe() for f in result.failed]
    assert result.summary["quarantined_rows"] == 0, result.summary["quarantined_by_reason"]
    unexpected_warnings = [w.describe() for w in result.warnings
                           if not w.expectation.startswith("schema:unexpected_column")]
    assert unexpected_warnings == []
    assert result.valid.count() == silver.count() > 0


def test_gold_tables_built_from_that_silver_pass_their_suites(spark: SparkSession, lake: Path) -> None:
    transactions = lake_table(spark, lake, "silver", "transactions")
    customers = lake_table(spark, lake, "silver", "customers")
    features = with_embedding(customer_features(transactions, customers, DAY), spend_profiles(transactions, DAY), None)
    metrics = daily_merchant_metrics(transactions, DAY)
    for table, df in (("customer_features", features), ("daily_merchant_metrics", metrics)):
        result = _gate(spark, df, lake, "gold", table)
        assert result.passed, [f.describe() for f in result.failed]
        assert result.warnings == [], [w.describe() for w in result.warnings]
