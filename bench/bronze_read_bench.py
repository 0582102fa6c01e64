"""Reading a clean bronze day: the inspected read (every object looked at, then Spark's native reader)
against the plain native read it replaced, alternated in one SparkSession on the same file.

`python -m bench.bronze_read_bench [--rows N] [--repeats R]`: both read the day's transactions CSV and
count the conformed rows (the parse, typing and reason checks: what the job's `split` phase starts with).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from bench.standalone import BENCH_DAY, run_standalone, standalone_arguments
from jobs.bronze import read_bronze, read_inspected
from jobs.bronze_files import inspect_folder
from jobs.contracts import load_contract
from jobs.lake import LakeLayout
from jobs.silver.conform import conform
from jobs.storage import list_files


def bench_read(spark: SparkSession, lake: Path, repeats: int) -> dict[str, Any]:
    contract = load_contract("transactions")
    folder = LakeLayout.from_root(str(lake)).bronze_ingest("transactions", BENCH_DAY)
    times: dict[str, list[float]] = {"native_read": [], "inspected_read": [], "inspection_alone": []}
    rows = 0
    for _ in range(repeats):
        started = time.perf_counter()
        rows = conform(read_bronze(spark, list_files(folder, (".csv",)), contract), contract).count()
        times["native_read"].append(time.perf_counter() - started)
        started = time.perf_counter()
        entries = inspect_folder(folder, contract)
        times["inspection_alone"].append(time.perf_counter() - started)
        conform(read_inspected(spark, entries, contract), contract).count()
        times["inspected_read"].append(time.perf_counter() - started)
    best = {name: min(values) for name, values in times.items()}
    return {"rows": rows, **{f"{name}_seconds": round(value, 3) for name, value in best.items()},
            "ratio": round(best["inspected_read"] / best["native_read"], 3),
            "all": {name: [round(v, 2) for v in values] for name, values in times.items()}}


def main(argv: list[str] | None = None) -> int:
    args = standalone_arguments(__doc__, "bronze-read", 4, argv)
    return run_standalone("bronze-read", args.work_dir, args.rows,
                          lambda spark, lake: bench_read(spark, lake, args.repeats))


if __name__ == "__main__":
    sys.exit(main())
