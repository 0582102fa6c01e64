"""What every benchmark shares: its bronze day, and running one benchmark on its own (generate the
day, measure it, print the figures)."""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession

BENCH_DAY = date(2024, 3, 1)


def consume(df: DataFrame) -> None:
    """Compute every row and column without writing anything (Spark's `noop` sink)."""
    df.write.format("noop").mode("overwrite").save()


def fresh_bench_lake(work_dir: Path, rows: int) -> Path:
    """A new lake under `work_dir` (anything there before is removed) holding one clean day of `rows`
    transactions on BENCH_DAY.

    The generator writes at most MAX_ROWS_PER_DAY transactions per day (its ticket id space), so a
    larger day (the scale curve's 4M) is generated as consecutive days of one population, whose
    transaction files are then moved into BENCH_DAY's ingest folder: one ingest date of `rows`
    unique transactions, their events spread over those days."""
    from pipelines.synthetic import generate
    from pipelines.synthetic.generator import MAX_ROWS_PER_DAY

    lake = work_dir / "lake"
    shutil.rmtree(work_dir, ignore_errors=True)
    days = -(-rows // MAX_ROWS_PER_DAY)
    generate(lake, BENCH_DAY, days, -(-rows // days), seed=11, dirty=False)
    transactions = lake / "bronze" / "transactions"
    target = transactions / f"ingest_date={BENCH_DAY.isoformat()}"
    for offset in range(1, days):
        folder = transactions / f"ingest_date={(BENCH_DAY + timedelta(days=offset)).isoformat()}"
        for path in folder.iterdir():
            path.rename(target / path.name)
        folder.rmdir()
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
