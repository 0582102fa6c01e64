"""Is Iceberg's vectorized reader safe with this Spark, JDK and Iceberg runtime? Run bronze_to_silver on
one 1M-row day (it reads back its staged snapshot) with `spark.sql.iceberg.vectorization.enabled` set.

The JVM either completes or dies (a crash report `hs_err_pid*.log` appears in the working folder), so
run this as its own process, a few times, before changing the setting in `jobs/runtime.py`:

    python -m bench.vectorized_read_check --vectorized true [--rows 1000000]
    LAKEHOUSE_SPARK_JARS=<runtime jar>,<sqlite-jdbc jar> python -m bench.vectorized_read_check --vectorized true
    JAVA_HOME=<another JDK> python -m bench.vectorized_read_check --vectorized true

docs/tables.md ("Vectorized reads are off, and why") has the results so far.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench.standalone import BENCH_DAY, fresh_bench_lake
from jobs import bronze_to_silver
from jobs.runtime import build_local_spark


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectorized", choices=("true", "false"), default="true")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work-dir", type=Path, default=Path(".bench-vectorized"))
    args = parser.parse_args(argv)
    lake = fresh_bench_lake(args.work_dir, args.rows)
    spark = build_local_spark("lakehouse-vectorized-read-check",
                              extra_conf={"spark.sql.iceberg.vectorization.enabled": args.vectorized})
    jvm = spark.sparkContext._jvm
    runtime = jvm.org.apache.iceberg.IcebergBuild.version()
    print(f"java {jvm.System.getProperty('java.runtime.version')}, iceberg {runtime}, "
          f"vectorized {args.vectorized}", flush=True)
    started = time.monotonic()
    report = bronze_to_silver.run(spark, {"dataset": "transactions", "run_date": BENCH_DAY.isoformat(),
                                          "lake_root": str(lake), "run_id": "vectorized-read-check"})
    print(f"completed: {report['silver_rows']:,} silver rows in {time.monotonic() - started:.1f} s", flush=True)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
