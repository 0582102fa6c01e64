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
    text = "\n".join(section(result))
    assert f"**{result['ratio']:.2f}×**" in text and "| quality_gate |" in text
    assert "| 300 | Iceberg " in text
    assert not (tmp_path / "lake" / "_bench_floor").exists() and not (tmp_path / "lake" / "_bench_runs").exists()
