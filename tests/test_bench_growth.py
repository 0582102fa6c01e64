"""The silver-growth benchmark's set-up is sound: its earlier days are valid, distinct silver days."""

from __future__ import annotations

import re
from datetime import date

import pytest
from pyspark.sql import functions as F

from bench.growth_bench import bench_growth, earlier_day
from jobs.contracts import load_contract
from pipelines.synthetic import generate


def test_an_earlier_day_has_keys_of_its_own_in_the_contract_pattern(spark):
    promoted = spark.createDataFrame([("TD4621F2E55DA", "2024-03-01 10:00:00")],
                                     "transaction_id string, event_time string")
    [row] = earlier_day(promoted.withColumn("event_time", F.to_timestamp("event_time")), 12).collect()
    assert row["transaction_id"] == "T0C621F2E55DA"  # 'T', 12 as two hex digits, the last 10 characters
    assert re.fullmatch(load_contract("transactions").column("transaction_id").pattern, row["transaction_id"])
    assert row["event_time"].isoformat() == "2024-02-18T10:00:00"


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_on_a_small_day(spark, tmp_path):
    day = date(2024, 3, 1)
    generate(tmp_path / "lake", day, 1, 300, seed=3, dirty=False)
    result = bench_growth(spark, tmp_path / "lake", day, days=2, repeats=1)
    assert result["silver_rows_before"] == 2 * 300
    assert set(result["best"]) == {"empty", "window", "whole"}
    assert not (tmp_path / "lake" / "_growth_empty").exists()
