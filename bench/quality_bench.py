"""Quality-gate overhead: the REAL bronze_to_silver job with and without its gate, same data, same run.

    from bench.quality_bench import bench_quality_gate
    figures = bench_quality_gate(spark, lake, day)        # a lake holding bronze transactions (+ customers)
    figures = bench_quality_gate(spark, lake, day, job_without_gate=f, job_with_gate=g)   # any pair

The gated run is `bronze_to_silver.run` exactly as Glue runs it. The ungated run is the job's own
steps without the gate step, composed by `bench/ungated.py` (the job has no switch for it). Before
timing, the day's customers are promoted to silver, so the gate runs
the full silver.transactions suite including the referential check against known customer ids (as
in a pipeline run; `previous_row_count` is not given by the job, so that warn-only check is skipped,
as it is in production). Data Docs are not built inside the job (finalize_run builds them once per
run). Runs alternate (noise hits both alike) after one untimed warm-up each; the best of each is
compared. Run it: `python -m bench.quality_bench --rows 1000000`.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from bench.standalone import BENCH_DAY, run_standalone, standalone_arguments
from bench.ungated import run_bronze_to_silver
from jobs import bronze_to_silver
from jobs.lake import LakeLayout


def promote_customers(spark: SparkSession, lake: Path, day: date) -> dict[str, Any]:
    """Customers to silver first: the transactions suite checks customer ids against them."""
    return bronze_to_silver.run(spark, {"dataset": "customers", "run_date": day.isoformat(),
                                        "lake_root": str(lake), "run_id": "bench-customers"})


def drop_table(spark: SparkSession, lake: Path, layer: str, name: str) -> None:
    """Drop a table and its files, so the next run starts from an empty one (customers stay)."""
    from jobs.tables import lake_catalog

    table = lake_catalog(spark, LakeLayout.from_root(str(lake))).table(layer, name)
    spark.sql(f"DROP TABLE IF EXISTS {table.identifier} PURGE")
    shutil.rmtree(table.location, ignore_errors=True)


def real_job_pair(spark: SparkSession, lake: Path, day: date) -> tuple[Callable[[], Any], Callable[[], Any]]:
    """(transactions bronze_to_silver without the gate, the same job with it); each run starts from an
    empty silver transactions table and quarantine, so both do the same work every time."""
    runs = iter(range(1_000_000))

    def run(gated: bool) -> dict[str, Any]:
        run_id = f"bench-{'gated' if gated else 'plain'}-{next(runs)}"
        args = {"dataset": "transactions", "run_date": day.isoformat(), "lake_root": str(lake), "run_id": run_id}
        drop_table(spark, lake, "silver", "transactions")
        drop_table(spark, lake, "quarantine", "transactions")
        started = time.perf_counter()
        report = run_bronze_to_silver(spark, args, gate=gated)
        return {"rows": report["bronze_rows"], "summary": report["quality"],
                "job_seconds": time.perf_counter() - started}

    return (lambda: run(False)), (lambda: run(True))


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def bench_quality_gate(spark: SparkSession, lake: Path, day: date = BENCH_DAY, *,
                       job_without_gate: Callable[[], Any] | None = None,
                       job_with_gate: Callable[[], Any] | None = None,
                       repeats: int = 2, warmup: bool = True) -> dict[str, Any]:
    """Gate overhead as (best time with gate) / (best time without), runs alternating.

    By default the pair is the real transactions bronze_to_silver on `lake`'s bronze for `day`
    (customers are promoted first); pass both callables to measure another pair. `warmup` runs each
    job once untimed first (JIT, GE's imports and metric registry would otherwise count).
    """
    if (job_without_gate is None) != (job_with_gate is None):
        raise ValueError("pass both job_without_gate and job_with_gate, or neither")
    if job_without_gate is None or job_with_gate is None:
        promote_customers(spark, lake, day)
        plain, gated = real_job_pair(spark, lake, day)
    else:
        plain, gated = job_without_gate, job_with_gate
    without, with_gate, reports = [], [], []
    if warmup:
        plain()
        gated()
    for _ in range(repeats):
        without.append(_timed(plain)[0])
        seconds, report = _timed(gated)
        with_gate.append(seconds)
        reports.append(report)
    last = reports[-1] if isinstance(reports[-1], dict) else {}
    summary = last.get("summary") or {}
    return {
        "rows": last.get("rows"),
        "seconds_without_gate": min(without),
        "seconds_with_gate": min(with_gate),
        "ratio": min(with_gate) / min(without),
        "all_without_gate": without,
        "all_with_gate": with_gate,
        "evaluated": summary.get("evaluated"),
        "quarantined_rows": summary.get("quarantined_rows"),
        "skipped": summary.get("skipped"),
    }


def section(spark: SparkSession, lake: Path, day: date) -> list[str]:
    """Markdown lines for `make bench` (bench/run.py looks for `bench.quality_section.section`)."""
    result = bench_quality_gate(spark, lake, day)
    print(f"quality gate: {result}", file=sys.stderr)
    skipped = ", ".join(s["expectation"] for s in result["skipped"] or []) or "none"
    return [
        "## Quality gate overhead (real bronze_to_silver, transactions)",
        "",
        "The real transactions bronze_to_silver with its gate against the job's own steps without",
        "the gate step (bench/ungated.py), on the same day's bronze, customers promoted",
        f"first (known customer ids in context). {result['evaluated']} expectations evaluated, skipped: {skipped};",
        f"{result['quarantined_rows']} rows routed. One warm-up each, best of 2 alternating runs.",
        "",
        "| rows | without gate (s) | with gate (s) | ratio | target |",
        "|---:|---:|---:|---:|---:|",
        f"| {result['rows']:,} | {result['seconds_without_gate']:.1f} | {result['seconds_with_gate']:.1f} | "
        f"**{result['ratio']:.2f}×** | ≤ 1.25× |",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    args = standalone_arguments(__doc__, "quality", 2, argv)
    return run_standalone("quality", args.work_dir, args.rows,
                          lambda spark, lake: bench_quality_gate(spark, lake, BENCH_DAY, repeats=args.repeats))


if __name__ == "__main__":
    sys.exit(main())
