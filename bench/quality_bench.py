"""Quality-gate overhead: the same transactions job with and without the gate, same data, same run.

    from bench.quality_bench import bench_quality_gate
    figures = bench_quality_gate(spark, 1_000_000)                      # built-in job on generated rows
    figures = bench_quality_gate(spark, n, job_without_gate=f, job_with_gate=g)   # any pair of callables

The built-in job mirrors bronze_to_silver's shape: read a bronze CSV with the contract's columns,
type and standardise, keep the latest row per transaction_id, add lineage and partition columns,
cache and count the winners (the real job does, to reconcile), write year/month/day Parquet. The
gated variant runs `run_quality_gate` on the cached winners (with the run context the pipeline
gives it: previous row count and known customer ids, and Data Docs built) and writes the promoted
and quarantined rows. Runs alternate (noise hits both alike); the best of each is compared.
Run it: `python -m bench.quality_bench --rows 1000000`.
"""

from __future__ import annotations

import argparse
import calendar
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from jobs.contracts import load_contract
from jobs.quality import run_quality_gate

BENCH_DAY = date(2024, 3, 1)
CHANNELS = ("online", "in_store", "mobile", "atm")
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
CATEGORIES = ("grocery", "restaurants", "travel", "electronics", "fashion", "fuel", "entertainment", "health",
              "utilities", "gambling")
CUSTOMERS = 50_000


def _pick(values: tuple[str, ...], index: Any) -> Any:
    return F.element_at(F.array(*[F.lit(v) for v in values]), (index % len(values) + 1).cast("int"))


def write_bronze_transactions(spark: SparkSession, n_rows: int, folder: str, dirty_fraction: float = 0.001) -> None:
    """`n_rows` transaction-shaped CSV rows; a `dirty_fraction` carry a value the suite quarantines."""
    seconds = F.lit(calendar.timegm(BENCH_DAY.timetuple())) + (F.col("id") * 7919) % 86_400
    dirty = F.rand(seed=3) < dirty_fraction
    rows = spark.range(n_rows).select(
        F.format_string("T%012X", F.col("id") * 2_654_435_761 % (1 << 48)).alias("transaction_id"),
        F.format_string("C%08d", F.col("id") % CUSTOMERS).alias("customer_id"),
        F.lit("4111 1111 1111 1111").alias("card_number"),
        F.format_string("%.2f", (F.col("id") % 50_000) / 10 + 0.5).alias("amount"),
        F.lower(_pick(CURRENCIES, F.col("id"))).alias("currency"),
        F.format_string("M%06d", F.col("id") % 900).alias("merchant_id"),
        _pick(CATEGORIES, F.col("id") * 3).alias("merchant_category"),
        F.date_format(seconds.cast("timestamp"), "yyyy-MM-dd'T'HH:mm:ss'Z'").alias("event_time"),
        F.when(dirty, F.lit("fax")).otherwise(_pick(CHANNELS, F.col("id") * 5)).alias("channel"),
        F.format_string("10.%d.%d.%d", F.col("id") % 255, F.col("id") % 253, F.col("id") % 251).alias("ip_address"),
        (F.col("id") % 97 == 0).cast("string").alias("is_fraud"),
    )
    rows.write.mode("overwrite").option("header", True).csv(folder)


def silver_winners(spark: SparkSession, bronze_folder: str, run_id: str) -> DataFrame:
    """Typed, standardised, latest per key, with lineage and partition columns (bronze_to_silver's shape)."""
    contract = load_contract("transactions")
    raw = spark.read.option("header", True).schema(
        ", ".join(f"{c} string" for c in contract.column_names)).csv(bronze_folder)
    typed = raw.select(*[
        F.upper(F.trim(F.col(c.name))).alias(c.name) if "upper" in c.standardize else
        F.lower(F.trim(F.col(c.name))).alias(c.name) if "lower" in c.standardize else
        F.trim(F.col(c.name)).cast(c.spark_type).alias(c.name)
        for c in contract.columns
    ], F.input_file_name().alias("_source_file"))
    latest = Window.partitionBy("transaction_id").orderBy(F.col("event_time").desc())
    winners = typed.withColumn("_rank", F.row_number().over(latest)).where("_rank = 1").drop("_rank")
    return winners.select(
        "*", F.lit(run_id).alias("_run_id"), F.lit(BENCH_DAY).alias("_ingest_date"),
        F.current_timestamp().alias("_processed_at"), F.date_format("event_time", "yyyy").alias("year"),
        F.date_format("event_time", "MM").alias("month"), F.date_format("event_time", "dd").alias("day"))


def _write(df: DataFrame, out: str) -> None:
    df.write.mode("overwrite").partitionBy("year", "month", "day").parquet(out)


def job_without_gate(spark: SparkSession, bronze_folder: str, out: str, run_id: str) -> dict[str, Any]:
    winners = silver_winners(spark, bronze_folder, run_id).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = winners.count()
        _write(winners, out + "/silver")
    finally:
        winners.unpersist()
    return {"rows": rows}


def job_with_gate(spark: SparkSession, bronze_folder: str, out: str, run_id: str) -> dict[str, Any]:
    winners = silver_winners(spark, bronze_folder, run_id).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        rows = winners.count()
        known_customers = spark.range(CUSTOMERS).select(F.format_string("C%08d", "id").alias("customer_id"))
        started = time.perf_counter()
        result = run_quality_gate(spark, winners, suite="transactions", layer="silver",
                                  contract=load_contract("transactions"), run_date=BENCH_DAY.isoformat(),
                                  run_id=run_id, ops_root=out + "/ops",
                                  context={"previous_row_count": rows, "known_customer_ids": known_customers})
        gate_seconds = time.perf_counter() - started
        if result.failed:
            raise RuntimeError(f"bench data failed the gate: {[f.describe() for f in result.failed]}")
        _write(result.valid, out + "/silver")
        result.quarantined.write.mode("overwrite").parquet(out + "/quarantine")
    finally:
        winners.unpersist()
    return {"rows": rows, "gate_seconds": gate_seconds, "summary": result.summary}


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def bench_quality_gate(spark: SparkSession, n_rows: int, *,
                       job_without_gate: Callable[[], Any] | None = None,
                       job_with_gate: Callable[[], Any] | None = None,
                       repeats: int = 2, warmup: bool = True, work_dir: str | None = None,
                       dirty_fraction: float = 0.001) -> dict[str, Any]:
    """Gate overhead as (best time with gate) / (best time without), runs alternating.

    Pass both callables to measure another job pair (e.g. the real bronze_to_silver with and without
    its gate); otherwise the built-in job runs on `n_rows` generated transactions. `warmup` runs
    each job once untimed first (JIT, GE's imports and metric registry would otherwise count).
    """
    if (job_without_gate is None) != (job_with_gate is None):
        raise ValueError("pass both job_without_gate and job_with_gate, or neither")
    folder = Path(work_dir or tempfile.mkdtemp(prefix="quality-bench-"))
    bronze = str(folder / "bronze")
    if job_without_gate is None or job_with_gate is None:
        write_bronze_transactions(spark, n_rows, bronze, dirty_fraction)
        plain, gated = _builtin_pair(spark, bronze, folder)
    else:
        plain, gated = job_without_gate, job_with_gate
    without, with_gate, reports = [], [], []
    try:
        if warmup:
            plain()
            gated()
        for _ in range(repeats):
            without.append(_timed(plain)[0])
            seconds, report = _timed(gated)
            with_gate.append(seconds)
            reports.append(report)
    finally:
        if work_dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    last = reports[-1] if isinstance(reports[-1], dict) else {}
    summary = last.get("summary") or {}
    return {
        "rows": last.get("rows", n_rows),
        "seconds_without_gate": min(without),
        "seconds_with_gate": min(with_gate),
        "ratio": min(with_gate) / min(without),
        "gate_seconds": [r.get("gate_seconds") for r in reports if isinstance(r, dict)],
        "all_without_gate": without,
        "all_with_gate": with_gate,
        "evaluated": summary.get("evaluated"),
        "quarantined_rows": summary.get("quarantined_rows"),
        "skipped": summary.get("skipped"),
    }


def _builtin_pair(spark: SparkSession, bronze: str, folder: Path) -> tuple[Callable[[], Any], Callable[[], Any]]:
    runs = iter(range(1_000_000))

    def plain() -> Any:
        return job_without_gate(spark, bronze, str(folder / "plain"), f"bench-plain-{next(runs)}")

    def gated() -> Any:
        return job_with_gate(spark, bronze, str(folder / "gated"), f"bench-gated-{next(runs)}")

    return plain, gated


def section(spark: SparkSession, lake: Path, day: date) -> list[str]:
    """Markdown lines for `make bench` (bench/run.py looks for `bench.quality_section.section`)."""
    del lake, day  # the built-in job generates its own rows so that a known share is quarantined
    result = bench_quality_gate(spark, 1_000_000)
    return [
        "## Quality gate overhead (transactions)",
        "",
        "Same job with and without `run_quality_gate` (silver.transactions suite, previous row count and",
        "known customer ids in context, Data Docs built, 0.1% of rows quarantined). Best of 2 alternating runs.",
        "",
        "| rows | without gate (s) | with gate (s) | ratio | target |",
        "|---:|---:|---:|---:|---:|",
        f"| {result['rows']:,} | {result['seconds_without_gate']:.1f} | {result['seconds_with_gate']:.1f} | "
        f"**{result['ratio']:.2f}×** | ≤ 1.25× |",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    from jobs.runtime import build_local_spark

    spark = build_local_spark(app_name="lakehouse-quality-bench")
    result = bench_quality_gate(spark, args.rows, repeats=args.repeats)
    for key, value in result.items():
        print(f"{key}: {value}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
