"""`make bench`: generate a 1M-transaction day, measure, and write docs/benchmarks.md.

Every figure compares two things measured in the same run on the same data, as ratios: the
machines are shared and noisy, so absolute seconds are reported but not asserted.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.standalone import BENCH_DAY, fresh_bench_lake


def _section_core(spark, lake: Path) -> list[str]:
    from bench.core_bench import bench_bronze_to_silver, section

    result = bench_bronze_to_silver(spark, lake, BENCH_DAY)
    print(f"bronze_to_silver: {result}", file=sys.stderr)
    return section(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work-dir", type=Path, default=Path(".bench"))
    parser.add_argument("--write", type=Path, help="markdown file to write the figures to")
    args = parser.parse_args(argv)

    from jobs.runtime import build_local_spark

    started = time.perf_counter()
    lake = fresh_bench_lake(args.work_dir, args.rows)
    generated = time.perf_counter() - started
    spark = build_local_spark(app_name="lakehouse-bench")
    sections = _section_core(spark, lake)
    for name in ("quality", "pii", "growth"):
        sections += _optional_section(name, spark, lake)
    header = [
        "# Benchmarks",
        "",
        f"Produced by `make bench` (`python -m bench.run --rows {args.rows}`) on "
        f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {_cores()} cores, Spark local[2], "
        f"Python {platform.python_version()}. Generating the day's bronze took {generated:.0f} s.",
        "These machines are shared and noisy: compare the ratios, measured in one run, not the seconds.",
        "",
    ]
    text = "\n".join(header + sections)
    print(text)
    if args.write:
        args.write.write_text(text)
    spark.stop()
    return 0


def _optional_section(name: str, spark, lake: Path) -> list[str]:
    """Sections contributed by the quality and PII modules (bench/<name>_section.py)."""
    import importlib

    try:
        module = importlib.import_module(f"bench.{name}_section")
    except ModuleNotFoundError:
        return []
    lines: list[str] = module.section(spark, lake, BENCH_DAY)
    return lines


def _cores() -> Any:
    import os

    return os.cpu_count()


if __name__ == "__main__":
    sys.exit(main())
