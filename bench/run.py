"""`make bench`: every benchmark of the speed targets in one SparkSession, as JSON and as markdown.

    python -m bench.run --rows 1000000 --json docs/benchmarks.json --write docs/benchmarks.md
    python -m bench.run --quick --json /tmp/quick.json       # a smaller version of every section

The JSON holds every figure of the run (seconds, rows/s, ratios), the command and the commit; its
top-level keys `bronze_to_silver_vs_floor`, `gate_vs_no_gate`, `redaction_texts_per_s_per_core`,
`redaction_person_recall`, `per_row_cost_max_vs_min`, `day60_vs_day1` and `demo_day_s` are the
figures the speed targets are about. docs/benchmarks.md is rendered from the JSON (bench/render.py).
Every ratio compares two things measured in the same run: the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.standalone import BENCH_DAY, fresh_bench_lake


@dataclass(frozen=True)
class Plan:
    """What one run measures: sizes are chosen once here, so `--quick` shrinks every section alike."""

    rows: int
    scale_sizes: tuple[int, ...]
    growth_rows: int
    growth_days: int
    redaction_texts: int
    repeats: int

    @classmethod
    def for_run(cls, rows: int | None, quick: bool) -> Plan:
        if quick:
            rows = rows or 100_000
            return cls(rows, (rows // 10, rows, rows * 4), max(rows // 10, 5_000), 15, 300, 1)
        rows = rows or 1_000_000
        return cls(rows, (rows // 10, rows, rows * 4), rows // 5, 60, 2000, 2)


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _timed_section(name: str, figures: dict[str, Any], measure: Any) -> Any:
    started = time.perf_counter()
    result = measure()
    figures.setdefault("section_seconds", {})[name] = round(time.perf_counter() - started, 1)
    print(f"{name}: {json.dumps(result, default=str)}", file=sys.stderr)
    return result


def measure_all(spark: Any, plan: Plan, work_dir: Path) -> dict[str, Any]:
    """Run every section; returns the JSON document (without the header fields)."""
    from bench.core_bench import bench_bronze_to_silver
    from bench.demo_day_bench import bench_demo_day
    from bench.growth_bench import bench_growth
    from bench.redaction_bench import bench_redaction_throughput
    from bench.scale_bench import bench_scale

    figures: dict[str, Any] = {}
    sections: dict[str, Any] = {}
    sections["demo_day"] = _timed_section("demo_day", figures, lambda: bench_demo_day(spark, work_dir))
    lake = fresh_bench_lake(work_dir / "core", plan.rows)
    core = sections["bronze_to_silver"] = _timed_section(
        "bronze_to_silver", figures, lambda: bench_bronze_to_silver(spark, lake, BENCH_DAY, repeats=plan.repeats))
    shutil.rmtree(work_dir / "core", ignore_errors=True)
    redaction = sections["redaction"] = _timed_section(
        "redaction", figures, lambda: bench_redaction_throughput(spark, plan.redaction_texts, work_dir))
    scale = sections["scale"] = _timed_section(
        "scale", figures, lambda: bench_scale(spark, work_dir, list(plan.scale_sizes)))
    growth_lake = fresh_bench_lake(work_dir / "growth", plan.growth_rows)
    growth = sections["growth"] = _timed_section(
        "growth", figures, lambda: bench_growth(spark, growth_lake, BENCH_DAY, days=plan.growth_days,
                                                repeats=plan.repeats))
    shutil.rmtree(work_dir / "growth", ignore_errors=True)
    return {
        "bronze_to_silver_vs_floor": core["ratio_to_iceberg_floor"],
        "gate_vs_no_gate": core["job_seconds"] / core["job_without_gate_seconds"],
        "redaction_texts_per_s_per_core": redaction["texts_per_s_per_core"],
        "redaction_person_recall": redaction["recall"].get("PERSON", 0.0),
        "redaction_vs_spacy_pipe": redaction["vs_spacy_pipe"],
        "per_row_cost_max_vs_min": scale["per_row_cost_max_vs_min"],
        "per_row_cost_growth": scale["per_row_cost_growth"],
        "day60_vs_day1": growth["window_ratio"],
        "demo_day_s": sections["demo_day"]["seconds"],
        "demo_day_spark_jobs": sections["demo_day"]["spark_jobs_total"],
        **figures,
        "sections": sections,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, help="rows of the main bench day (default 1,000,000; --quick 100,000)")
    parser.add_argument("--quick", action="store_true", help="a smaller version of every section")
    parser.add_argument("--work-dir", type=Path, default=Path(".bench"))
    parser.add_argument("--json", type=Path, help="write every figure of the run here")
    parser.add_argument("--write", type=Path, help="render the figures as markdown to this file")
    args = parser.parse_args(argv)

    from bench.render import render
    from jobs.runtime import build_local_spark

    plan = Plan.for_run(args.rows, args.quick)
    shutil.rmtree(args.work_dir, ignore_errors=True)
    args.work_dir.mkdir(parents=True)
    load_before = list(os.getloadavg())
    started = time.perf_counter()
    spark = build_local_spark(app_name="lakehouse-bench")
    try:
        measured = measure_all(spark, plan, args.work_dir.resolve())
    finally:
        spark.stop()
    document = {
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": _commit(),
        "date": f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        "machine": {"arch": platform.machine(), "cores": os.cpu_count(), "python": platform.python_version(),
                    "load_average_before": load_before},
        "plan": plan.__dict__,
        "total_seconds": round(time.perf_counter() - started, 1),
        **measured,
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(document, indent=2, default=str) + "\n")
    text = render(document)
    print(text)
    if args.write:
        args.write.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
