"""bronze_to_silver on a new day when silver already holds weeks of earlier days.

A nightly job meets a silver table that grows by a day each run. Deduplication against silver must
not cost more as the table ages. This benchmark builds earlier days from one promoted day (keys
re-prefixed per day so they do not collide, event times shifted), then times the same new day
three ways, alternating: with silver empty, with the grown silver and the shipped contract
(`dedupe.match_window_days: 3`), and with the grown silver searched whole (`match_window_days: null`).

    python -m bench.growth_bench --days 28        # from the checkout; generates its own bronze day
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from bench.standalone import BENCH_DAY, run_standalone, standalone_arguments
from jobs import bronze_to_silver
from jobs.contracts import contracts_dir
from jobs.lake import LakeLayout
from jobs.silver.dedupe import with_partition_columns
from jobs.tables import TableRef, current_snapshot, lake_catalog, read_table

DATASET = "transactions"


def earlier_day(promoted: DataFrame, days_back: int) -> DataFrame:
    """A copy of the promoted day `days_back` days earlier, under keys of its own ('T' + 2 hex digits
    of `days_back` + the key's last 10 characters: still the contract's pattern)."""
    key = F.concat(F.lit("T"), F.lpad(F.hex(F.lit(days_back)), 2, "0"), F.substring("transaction_id", 4, 10))
    shifted = F.col("event_time") - F.expr(f"INTERVAL {days_back} DAYS")
    return promoted.withColumn("transaction_id", key).withColumn("event_time", shifted)


def day_rows(silver: DataFrame, day: date) -> DataFrame:
    return silver.where((F.col("year") == f"{day:%Y}") & (F.col("month") == f"{day:%m}")
                        & (F.col("day") == f"{day:%d}"))


def grow_silver(spark: SparkSession, table: TableRef, day: date, days: int) -> None:
    """Add `days` earlier days to silver (one commit), each a copy of `day`'s promoted rows."""
    promoted = day_rows(read_table(spark, table), day).localCheckpoint()
    earlier = [earlier_day(promoted, back).drop("year", "month", "day") for back in range(1, days + 1)]
    grown = earlier[0]
    for frame in earlier[1:]:
        grown = grown.unionByName(frame)
    with_partition_columns(grown, "event_time").select(*spark.table(table.identifier).columns) \
        .writeTo(table.identifier).append()


@contextmanager
def whole_silver_contracts() -> Iterator[Path]:
    """A copy of the shipped contracts whose transactions contract searches all of silver."""
    with tempfile.TemporaryDirectory(prefix="contracts-") as folder:
        for source in contracts_dir().glob("*.yaml"):
            text = source.read_text()
            if source.stem == DATASET:
                text = text.replace("match_window_days: 3", "match_window_days: null")
            (Path(folder) / source.name).write_text(text)
        yield Path(folder)


@contextmanager
def contracts_from(folder: Path | None) -> Iterator[None]:
    """Jobs started inside load their contracts from `folder` (None: the shipped ones)."""
    previous = os.environ.get("LAKEHOUSE_CONTRACTS_DIR")
    if folder is not None:
        os.environ["LAKEHOUSE_CONTRACTS_DIR"] = str(folder)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("LAKEHOUSE_CONTRACTS_DIR", None)
        else:
            os.environ["LAKEHOUSE_CONTRACTS_DIR"] = previous


def bench_growth(spark: SparkSession, lake: Path, day: date = BENCH_DAY, days: int = 28,
                 repeats: int = 2) -> dict[str, Any]:
    layout = LakeLayout.from_root(str(lake))
    scratch = lake / "_growth_empty"
    table = lake_catalog(spark, layout).table("silver", DATASET)

    def run(run_id: str, empty: bool) -> float:
        """The day promoted into the grown silver (its own rows deleted first), or into an empty lake."""
        if empty:
            shutil.rmtree(scratch, ignore_errors=True)
            roots = {f"{layer}_root": str(scratch / layer) for layer in ("silver", "gold", "quarantine", "catalog")}
            args = {"bronze_root": layout.bronze, "ops_root": layout.ops, **roots}
        else:
            lake_catalog(spark, layout)
            if current_snapshot(spark, table) is not None:
                where = f"year = '{day:%Y}' AND month = '{day:%m}' AND day = '{day:%d}'"
                spark.sql(f"DELETE FROM {table.identifier} WHERE {where}")
            args = {"lake_root": str(lake)}
        started = time.perf_counter()
        bronze_to_silver.run(spark, {"dataset": DATASET, "run_date": day.isoformat(), "run_id": run_id, **args})
        return time.perf_counter() - started

    run("growth-seed", empty=False)
    grow_silver(spark, table, day, days)
    silver = read_table(spark, table)
    silver_rows, day_count = silver.count(), day_rows(silver, day).count()
    times: dict[str, list[float]] = {"empty": [], "window": [], "whole": []}
    with whole_silver_contracts() as whole:
        for attempt in range(repeats + 1):  # the first round warms up and is not counted
            for case in times:
                with contracts_from(whole if case == "whole" else None):
                    seconds = run(f"growth-{case}-{attempt}", empty=case == "empty")
                if attempt:
                    times[case].append(seconds)
    shutil.rmtree(scratch, ignore_errors=True)
    lake_catalog(spark, layout)  # the session's catalog back on this lake
    best = {case: min(values) for case, values in times.items()}
    return {"days": days, "silver_rows_before": silver_rows - day_count, "best": best,
            "all": times, "window_ratio": best["window"] / best["empty"], "whole_ratio": best["whole"] / best["empty"]}





def section(spark: SparkSession, lake: Path, day: date) -> list[str]:
    """Markdown lines for `make bench` (bench/run.py looks for `bench.growth_section.section`)."""
    result = bench_growth(spark, lake, day)
    print(f"silver growth: {result}", file=sys.stderr)
    best = result["best"]
    return [
        "## Silver that grows (transactions, a new day against weeks of silver)",
        "",
        f"The same new day promoted with silver empty, and with silver already holding {result['days']} earlier",
        f"days ({result['silver_rows_before']:,} rows), searched through the shipped 3-day match window and",
        "whole. Quality gate included. One warm-up round, best of 2 alternating rounds.",
        "",
        "| silver before the run | searched | bronze_to_silver (s) | vs empty silver |",
        "|---|---|---:|---:|",
        f"| empty | n/a | {best['empty']:.1f} | 1.00× |",
        f"| {result['days']} days | 3-day window (shipped) | {best['window']:.1f} | "
        f"**{result['window_ratio']:.2f}×** |",
        f"| {result['days']} days | all of silver | {best['whole']:.1f} | {result['whole_ratio']:.2f}× |",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    args = standalone_arguments(__doc__, "growth", 2, argv,
                                more=lambda parser: parser.add_argument("--days", type=int, default=28))
    return run_standalone("growth", args.work_dir, args.rows,
                          lambda spark, lake: bench_growth(spark, lake, BENCH_DAY, days=args.days,
                                                           repeats=args.repeats))


if __name__ == "__main__":
    sys.exit(main())
