"""The core benchmark (bronze_to_silver against its floor) runs and reports what it measured."""

from __future__ import annotations

from datetime import date

import pytest

from bench.core_bench import bench_bronze_to_silver, section
from pipelines.synthetic import generate


@pytest.mark.slow
def test_the_benchmark_runs_end_to_end_on_a_small_day(spark, tmp_path):
    day = date(2024, 3, 1)
    generate(tmp_path / "lake", day, 1, 300, seed=5, dirty=False)
    result = bench_bronze_to_silver(spark, tmp_path / "lake", day, repeats=1)

    assert result["bronze_rows"] == 300
    assert {name: len(times) for name, times in result["all"].items()} == {
        "floor": 1, "iceberg_floor": 1, "job": 1, "job_without_gate": 1}
    assert result["ratio_to_iceberg_floor"] == pytest.approx(result["job_seconds"] / result["iceberg_floor_seconds"])
    assert result["ratio"] == pytest.approx(result["job_seconds"] / result["floor_seconds"])
    assert "quality_gate" in result["phases"] and result["phases"]["total"] <= result["job_seconds"]
    assert "quality_gate" not in result["phases_without_gate"]
    assert result["phases_without_gate"]["total"] <= result["job_without_gate_seconds"]
    text = "\n".join(section(result))
    assert f"**{result['ratio']:.2f}×**" in text and "| quality_gate |" in text
    assert "| 300 | Iceberg " in text
    assert not (tmp_path / "lake" / "_bench_floor").exists() and not (tmp_path / "lake" / "_bench_runs").exists()


@pytest.mark.slow
def test_the_bronze_read_benchmark_reads_the_same_rows_both_ways(spark, tmp_path):
    from bench.bronze_read_bench import bench_read
    from bench.standalone import BENCH_DAY

    generate(tmp_path / "lake", BENCH_DAY, 1, 200, seed=5, dirty=False)
    result = bench_read(spark, tmp_path / "lake", repeats=1)
    assert result["rows"] == 200 and result["inspection_alone_seconds"] <= result["inspected_read_seconds"]
    assert {name: len(times) for name, times in result["all"].items()} == {
        "native_read": 1, "inspected_read": 1, "inspection_alone": 1}


def test_a_bench_day_larger_than_the_generators_day_is_one_ingest_date_of_unique_rows(monkeypatch, tmp_path):
    """The scale curve's 4M-row day exceeds what the generator writes per day (its id space)."""
    import csv

    from bench.standalone import BENCH_DAY, fresh_bench_lake
    from pipelines.synthetic import generator

    monkeypatch.setattr(generator, "MAX_ROWS_PER_DAY", 700)
    lake = fresh_bench_lake(tmp_path / "work", 2000)
    transactions = lake / "bronze" / "transactions"
    assert [p.name for p in transactions.iterdir()] == [f"ingest_date={BENCH_DAY.isoformat()}"]
    ids = [row["transaction_id"] for path in sorted(transactions.rglob("*.csv"))
           for row in csv.DictReader(path.open())]
    assert len(ids) == 2001 and len(set(ids)) == len(ids)
