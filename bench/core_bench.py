"""bronze_to_silver against its floor, on the same bronze data in the same SparkSession.

The floor is what any job must pay: read the same bronze CSV and write the same partitioned
Parquet (snappy, year/month/day from the event time), with no typing, checks or deduplication.
"""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs import bronze_to_silver
from jobs.lake import LakeLayout


def floor_job(spark: SparkSession, bronze_folder: str, out: str) -> None:
    frame = spark.read.option("header", True).csv(bronze_folder)
    event_day = F.substring("event_time", 1, 10)
    (frame.select("*", F.substring(event_day, 1, 4).alias("year"), F.substring(event_day, 6, 2).alias("month"),
                  F.substring(event_day, 9, 2).alias("day"))
     .write.mode("overwrite").partitionBy("year", "month", "day").parquet(out))


def timed(action) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_bronze_to_silver(spark: SparkSession, lake: Path, day: date, repeats: int = 2) -> dict[str, Any]:
    """Alternate floor and job runs (noise hits both alike); report the best of each and the ratio."""
    layout = LakeLayout.from_root(str(lake))
    bronze = layout.bronze_ingest("transactions", day)
    floor_out = str(lake / "_bench_floor")
    floor_times, job_times = [], []
    report: dict[str, Any] = {}
    for attempt in range(repeats):
        floor_times.append(timed(lambda: floor_job(spark, bronze, floor_out)))
        shutil.rmtree(layout.silver, ignore_errors=True)
        shutil.rmtree(layout.quarantine, ignore_errors=True)
        args = {"dataset": "transactions", "run_date": day.isoformat(), "lake_root": str(lake),
                "run_id": f"bench-{attempt}"}
        job_times.append(timed(lambda args=args: report.update(bronze_to_silver.run(spark, args))))
    return {
        "bronze_rows": report["bronze_rows"],
        "floor_seconds": min(floor_times),
        "job_seconds": min(job_times),
        "ratio": min(job_times) / min(floor_times),
        "all_floor": floor_times,
        "all_job": job_times,
    }
