"""One ingestion day of the demo, the JVM already up: what a daily run costs at the demo's size.

Two dirty days of the demo's size are generated; day 1 runs first (it starts the JVM and the Python
workers and fills silver), then day 2 is timed, end to end through state_machines/ingestion.asl.json
on the local engine: three bronze_to_silver runs, silver_to_gold, the manifest. Per-job phase
seconds and Spark-job counts come from the job reports.

    python -m bench.demo_day_bench
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

DEMO_START = date(2024, 1, 1)
DEMO_ROWS_PER_DAY = 5_000  # `lakehouse demo`'s default


def bench_demo_day(spark: SparkSession, work_dir: Path, rows_per_day: int = DEMO_ROWS_PER_DAY) -> dict[str, Any]:
    from jobs.lake import LakeLayout
    from jobs.storage import read_json
    from pipelines.local_run import local_pipelines
    from pipelines.synthetic import generate

    lake = work_dir / "demo-day"
    shutil.rmtree(lake, ignore_errors=True)
    generate(lake, DEMO_START, 2, rows_per_day, seed=7, dirty=True)
    second = DEMO_START + timedelta(days=1)
    with local_pipelines(lake, spark_factory=lambda: spark) as pipelines:
        first = pipelines.run("ingestion", DEMO_START)
        started = time.perf_counter()
        run = pipelines.run("ingestion", second)
        seconds = time.perf_counter() - started
    if first.status != "SUCCEEDED" or run.status != "SUCCEEDED":
        raise RuntimeError(f"demo day failed: {first.error_message or run.error_message}")
    reports_dir = Path(LakeLayout.from_root(str(lake)).run_reports_dir("ingestion", second, run.run_id))
    reports = {path.stem: read_json(str(path)) for path in sorted(reports_dir.glob("*.json"))}
    jobs = {name: report.get("phase_seconds") for name, report in reports.items()}
    # Spark jobs per job run: the fixed cost no machine load changes (jobs/spark_work.py).
    spark_jobs = {name: (report.get("work") or {}).get("spark_jobs") for name, report in reports.items()}
    shutil.rmtree(lake, ignore_errors=True)
    return {"rows_per_day": rows_per_day, "seconds": seconds, "jobs": jobs, "spark_jobs": spark_jobs,
            "spark_jobs_total": sum(n for n in spark_jobs.values() if n)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows-per-day", type=int, default=DEMO_ROWS_PER_DAY)
    parser.add_argument("--work-dir", type=Path, default=Path(".bench-demo"))
    args = parser.parse_args(argv)
    from jobs.runtime import build_local_spark

    spark = build_local_spark(app_name="lakehouse-demo-day-bench")
    try:
        print(json.dumps(bench_demo_day(spark, args.work_dir, args.rows_per_day), indent=2))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
