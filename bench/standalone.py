"""What every benchmark shares: its bronze day, and running one benchmark on its own (generate the
day, measure it, print the figures)."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

BENCH_DAY = date(2024, 3, 1)


def consume(df: DataFrame) -> None:
    """Compute every row and column without writing anything (Spark's `noop` sink)."""
    df.write.format("noop").mode("overwrite").save()


def fresh_bench_lake(work_dir: Path, rows: int) -> Path:
    """A new lake under `work_dir` (anything there before is removed) holding one clean day of `rows`
    transactions on BENCH_DAY."""
    from pipelines.synthetic import generate

    lake = work_dir / "lake"
    shutil.rmtree(work_dir, ignore_errors=True)
    generate(lake, BENCH_DAY, 1, rows, seed=11, dirty=False)
    return lake


def standalone_arguments(doc: str, name: str, repeats: int, argv: list[str] | None,
                         more: Callable[[argparse.ArgumentParser], Any] | None = None) -> argparse.Namespace:
    """The arguments every benchmark run on its own takes (`--rows`, `--repeats`, `--work-dir`), and `more`."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--work-dir", type=Path, default=Path(f".bench-{name}"))
    if more is not None:
        more(parser)
    return parser.parse_args(argv)


def run_standalone(name: str, work_dir: Path, rows: int,
                   measure: Callable[[SparkSession, Path], dict[str, Any]]) -> int:
    """`measure(spark, lake)` on a fresh bench lake (see `fresh_bench_lake`), printing what it returns."""
    from jobs.runtime import build_local_spark

    lake = fresh_bench_lake(work_dir, rows)
    spark = build_local_spark(app_name=f"lakehouse-{name}-bench")
    try:
        for key, value in measure(spark, lake).items():
            print(f"{key}: {value}")
    finally:
        spark.stop()
    return 0
