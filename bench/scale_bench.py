"""The cost per row of bronze_to_silver across day sizes: it must not grow with the data.

Each size gets a fresh bench lake (one clean generated day) and the job promotes it into empty
silver, best of `repeats` runs after one warm-up run at the smallest size (JVM and Python
workers warm). Per-row cost = seconds / bronze rows; the figure that matters is the largest
per-row cost over the smallest (flat: close to 1; fixed cost shows as a high cost at small sizes).

    python -m bench.scale_bench --sizes 100000 1000000 4000000
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from itertools import pairwise
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from bench.core_bench import promote_into, timed
from bench.standalone import BENCH_DAY, fresh_bench_lake
from jobs.lake import LakeLayout


def promote_into_empty_silver(spark: SparkSession, lake: Path, run_id: str) -> tuple[float, dict[str, Any]]:
    root = lake / "_scale_runs" / run_id
    shutil.rmtree(root, ignore_errors=True)
    seconds, report = timed(lambda: promote_into(spark, LakeLayout.from_root(str(lake)), root, BENCH_DAY, run_id))
    shutil.rmtree(root, ignore_errors=True)
    return seconds, report


def bench_scale(spark: SparkSession, work_dir: Path, sizes: list[int], repeats: int = 1) -> dict[str, Any]:
    points = []
    for index, rows in enumerate(sorted(sizes)):
        lake = fresh_bench_lake(work_dir / f"scale-{rows}", rows)
        if index == 0:
            promote_into_empty_silver(spark, lake, "scale-warm-up")
        runs = [promote_into_empty_silver(spark, lake, f"scale-{rows}-{attempt}") for attempt in range(repeats)]
        seconds, report = min(runs, key=lambda run: run[0])
        bronze_rows = int(report["bronze_rows"])
        folder = Path(LakeLayout.from_root(str(lake)).bronze_ingest("transactions", BENCH_DAY))
        bronze_bytes = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        points.append({"rows": rows, "bronze_rows": bronze_rows, "bronze_bytes": bronze_bytes, "seconds": seconds,
                       "microseconds_per_row": seconds / bronze_rows * 1e6, "rows_per_s": bronze_rows / seconds,
                       "phases": report["phase_seconds"]})
        shutil.rmtree(work_dir / f"scale-{rows}", ignore_errors=True)
    costs = [p["microseconds_per_row"] for p in points]
    # Growth: the per-row cost at each size over the next smaller size's, at its worst (≤ 1: it never
    # grows with the data; the fixed cost of a run shows in max over min instead, at the small end).
    steps = [larger / smaller for smaller, larger in pairwise(costs)]
    return {"points": points, "per_row_cost_max_vs_min": max(costs) / min(costs),
            "per_row_cost_growth": max(steps, default=1.0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 4_000_000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--work-dir", type=Path, default=Path(".bench-scale"))
    args = parser.parse_args(argv)
    from jobs.runtime import build_local_spark

    spark = build_local_spark(app_name="lakehouse-scale-bench")
    try:
        print(json.dumps(bench_scale(spark, args.work_dir, args.sizes, args.repeats), indent=2))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
