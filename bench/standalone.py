"""Running one benchmark on its own: generate its bronze day, measure it, print the figures."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession


def run_standalone(name: str, work_dir: Path, rows: int, day: date,
                   measure: Callable[[SparkSession, Path], dict[str, Any]]) -> int:
    """A fresh lake under `work_dir` with one clean day of `rows` transactions, then `measure(spark, lake)`."""
    from jobs.runtime import build_local_spark
    from pipelines.synthetic import generate

    lake = work_dir / "lake"
    shutil.rmtree(work_dir, ignore_errors=True)
    generate(lake, day, 1, rows, seed=11, dirty=False)
    spark = build_local_spark(app_name=f"lakehouse-{name}-bench")
    try:
        for key, value in measure(spark, lake).items():
            print(f"{key}: {value}")
    finally:
        spark.stop()
    return 0
