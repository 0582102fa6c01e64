"""bronze_to_silver against its floor, on the same bronze data in the same SparkSession.

The floor is what any job must pay: read the same bronze CSV and write the same rows partitioned by
year/month/day from the event time, with no typing, checks or deduplication. Two floors are measured:
plain partitioned Parquet (the floor of the Parquet-folder job this project had before its tables
were Iceberg), and the honest one for today's job, the same rows written as an Iceberg table (one
commit into a fresh embedded catalog).
The job is run with its quality gate (as it always runs) and without it (its own steps minus the
gate step, bench/ungated.py), in turns and alternated with the floor, after one untimed run of each
(JVM warm-up); the phases of its fastest runs (from their reports' `phase_seconds`) say where the
time beyond the floor goes.
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
from pyspark.sql import functions as F

from bench.standalone import BENCH_DAY, run_standalone, standalone_arguments
from bench.ungated import run_bronze_to_silver
from jobs.lake import LakeLayout

TARGET_RATIO = 2.0


def _floor_rows(spark: SparkSession, bronze_folder: str) -> Any:
    frame = spark.read.option("header", True).csv(bronze_folder)
    event_day = F.substring("event_time", 1, 10)
    return frame.select("*", F.substring(event_day, 1, 4).alias("year"), F.substring(event_day, 6, 2).alias("month"),
                        F.substring(event_day, 9, 2).alias("day"))


def floor_job(spark: SparkSession, bronze_folder: str, out: str) -> None:
    _floor_rows(spark, bronze_folder).write.mode("overwrite").partitionBy("year", "month", "day").parquet(out)


def iceberg_floor_job(spark: SparkSession, bronze_folder: str, lake: Path) -> None:
    """The same rows as one Iceberg commit into a table of a fresh lake (catalog and folder)."""
    from jobs.tables import ensure_table, lake_catalog

    rows = _floor_rows(spark, bronze_folder)
    table = lake_catalog(spark, LakeLayout.from_root(str(lake))).table("silver", "floor")
    ensure_table(spark, table, rows.schema, ("year", "month", "day"))
    rows.writeTo(table.identifier).append()


def timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def promote_into(spark: SparkSession, bronze_lake: LakeLayout, root: Path, day: date, run_id: str,
                 gate: bool = True) -> dict[str, Any]:
    """bronze_to_silver of `bronze_lake`'s transactions day into the (empty) tables of a lake at `root`;
    returns the job report."""
    args = {"dataset": "transactions", "run_date": day.isoformat(), "run_id": run_id,
            "bronze_root": bronze_lake.bronze, **{f"{layer}_root": str(root / layer)
                                                  for layer in ("silver", "gold", "quarantine", "ops", "catalog")}}
    return run_bronze_to_silver(spark, args, gate=gate)


def bench_bronze_to_silver(spark: SparkSession, lake: Path, day: date, repeats: int = 2) -> dict[str, Any]:
    """Alternate floor, job and job without gate (noise hits all alike); report the best of each,
    the ratios, and the phases of the fastest gated run."""
    layout = LakeLayout.from_root(str(lake))
    bronze = layout.bronze_ingest("transactions", day)
    floor_out = str(lake / "_bench_floor")
    times: dict[str, list[float]] = {"floor": [], "iceberg_floor": [], "job": [], "job_without_gate": []}
    fastest_reports: dict[str, dict[str, Any]] = {}  # "job" / "job_without_gate" -> its fastest run's report
    scratch = lake / "_bench_runs"

    def fresh(name: str) -> Path:
        """A fresh lake (its own catalog and table folders) for one run: every run promotes the day
        into empty silver, as the floors write into nothing."""
        root = scratch / name
        shutil.rmtree(root, ignore_errors=True)
        return root

    def promote(run_id: str, gate: bool) -> dict[str, Any]:
        return promote_into(spark, layout, fresh(run_id), day, run_id, gate=gate)

    def run_job(attempt: int, gate: bool) -> None:
        name = "job" if gate else "job_without_gate"
        seconds, report = timed(lambda: promote(f"bench-{name}-{attempt}", gate=gate))
        if not times[name] or seconds < min(times[name]):
            fastest_reports[name] = report
        times[name].append(seconds)

    # Untimed first runs: the JVM compiles the paths every run takes (a session's first runs were up to
    # 2x slower than its third), so the timed runs compare warm code with warm code.
    iceberg_floor_job(spark, bronze, fresh("warm-up-floor"))
    promote("warm-up-job", gate=True)
    for attempt in range(repeats):
        seconds, _ = timed(lambda: floor_job(spark, bronze, floor_out))
        times["floor"].append(seconds)
        seconds, _ = timed(lambda attempt=attempt: iceberg_floor_job(spark, bronze, fresh(f"floor-{attempt}")))
        times["iceberg_floor"].append(seconds)
        # With and without the gate in turns, first one then the other, so a trend in the machine's
        # speed within the run favours neither.
        for gate in ((True, False) if attempt % 2 == 0 else (False, True)):
            run_job(attempt, gate)
    shutil.rmtree(floor_out, ignore_errors=True)
    shutil.rmtree(scratch, ignore_errors=True)
    best = {name: min(values) for name, values in times.items()}
    return {
        "bronze_rows": fastest_reports["job"]["bronze_rows"],
        "floor_seconds": best["floor"],
        "iceberg_floor_seconds": best["iceberg_floor"],
        "ratio_to_iceberg_floor": best["job"] / best["iceberg_floor"],
        "ratio_without_gate_to_iceberg_floor": best["job_without_gate"] / best["iceberg_floor"],
        "job_seconds": best["job"],
        "job_without_gate_seconds": best["job_without_gate"],
        "ratio": best["job"] / best["floor"],
        "ratio_without_gate": best["job_without_gate"] / best["floor"],
        "phases": fastest_reports["job"]["phase_seconds"],
        "phases_without_gate": fastest_reports["job_without_gate"]["phase_seconds"],
        "all": times,
    }


def section(result: dict[str, Any]) -> list[str]:
    """The `make bench` markdown for one result of `bench_bronze_to_silver`."""
    floor = result["floor_seconds"]
    phases = dict(result["phases"])
    total = phases.pop("total")
    lines = [
        "## bronze_to_silver vs its floor (transactions)",
        "",
        "Floors: the same session reads the same bronze CSV and writes the same year/month/day-partitioned",
        "rows with no typing, checks or deduplication, as snappy Parquet files (the old floor) and as one",
        "Iceberg commit into a fresh table (the floor of today's job, which writes Iceberg tables).",
        "Every job run promotes the day into a fresh, empty lake. Best of the alternating runs of each.",
        "",
        "| bronze rows | floor (s) | bronze_to_silver (s) | ratio | without its gate (s) | ratio | target |",
        "|---:|---:|---:|---:|---:|---:|---:|",
        f"| {result['bronze_rows']:,} | Parquet {floor:.1f} | {result['job_seconds']:.1f} | "
        f"**{result['ratio']:.2f}×** | {result['job_without_gate_seconds']:.1f} | "
        f"{result['ratio_without_gate']:.2f}× | ≤ {TARGET_RATIO}× |",
        f"| {result['bronze_rows']:,} | Iceberg {result['iceberg_floor_seconds']:.1f} | {result['job_seconds']:.1f} | "
        f"**{result['ratio_to_iceberg_floor']:.2f}×** | {result['job_without_gate_seconds']:.1f} | "
        f"{result['ratio_without_gate_to_iceberg_floor']:.2f}× | |",
        "",
        "All runs (s): " + "; ".join(f"{name.replace('_', ' ')} {', '.join(f'{t:.1f}' for t in values)}"
                                     for name, values in result["all"].items()) + ".",
        "",
        "Phases of the fastest run with the gate (its report's `phase_seconds`; Spark is lazy, so a phase",
        "includes the work its own actions trigger: the bronze parse, typing and PII tokens are in `split`):",
        "",
        "| phase | s | × floor |",
        "|---|---:|---:|",
        *[f"| {name} | {seconds:.1f} | {seconds / floor:.2f} |" for name, seconds in phases.items()],
        f"| between phases (listing, report) | {total - sum(phases.values()):.1f} | "
        f"{(total - sum(phases.values())) / floor:.2f} |",
        f"| total | {total:.1f} | {total / floor:.2f} |",
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    args = standalone_arguments(__doc__, "core", 2, argv)

    def measure(spark: SparkSession, lake: Path) -> dict[str, Any]:
        result = bench_bronze_to_silver(spark, lake, BENCH_DAY, repeats=args.repeats)
        print("\n".join(section(result)))
        return result

    return run_standalone("core", args.work_dir, args.rows, measure)


if __name__ == "__main__":
    sys.exit(main())
