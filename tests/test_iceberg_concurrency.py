"""Runs as separate processes against one lake: two runs of the same date at once, and runs killed
with SIGKILL at random points then run again. The lake must end as one clean run leaves it: no key
twice, none lost, no snapshot that references a missing or torn file."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs import bronze_to_silver, maintain_tables
from jobs.lake import LakeLayout
from jobs.tables import lake_catalog, lake_table
from pipelines.lake_tables import history, open_local
from pipelines.synthetic import generate
from tests.frames import data_files_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAY = "2024-01-02"
DATASET = "transactions"
REPO = Path(__file__).resolve().parents[1]
RUN_SPECIFIC = {"_run_id", "_processed_at", "run_id", "quarantined_at"}


def job_command(lake: Path, run_id: str, day: str = DAY) -> list[str]:
    return [sys.executable, "-m", "jobs.bronze_to_silver", "--dataset", DATASET, "--run_date", day,
            "--lake_root", str(lake), "--run_id", run_id]


def start_job(lake: Path, run_id: str) -> subprocess.Popen:
    return subprocess.Popen(job_command(lake, run_id), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def run_job(lake: Path, run_id: str, day: str = DAY) -> str:
    finished = subprocess.run(job_command(lake, run_id, day), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return finished.stderr


def new_lake(spark, root: Path) -> Path:
    """Day 1 ingested (so silver has rows to deduplicate against), day 2's bronze waiting. Day 1 is
    set-up, not under test: it runs in this process on the session's Spark, saving a JVM start."""
    lake = root / "lake"
    generate(lake, date(2024, 1, 1), 2, 400, seed=5, dirty=True)
    bronze_to_silver.run(spark, {"dataset": DATASET, "run_date": "2024-01-01", "lake_root": str(lake),
                                 "run_id": "day-1"})
    return lake


def table_content(spark, lake: Path, layer: str) -> list[tuple]:
    """The rows, without what differs between two runs of the same data in two lakes (run ids and
    times; the bronze file's folder, kept by its name)."""
    frame = lake_table(spark, lake, layer, DATASET)
    columns = [F.element_at(F.split(c, "/"), -1).alias(c) if c in ("_source_file", "source_file") else c
               for c in frame.columns if c not in RUN_SPECIFIC]
    return sorted(tuple(str(v) for v in row) for row in frame.select(*columns).collect())


def assert_sound(spark, lake: Path) -> None:
    """No key twice in silver; every snapshot of both tables reads whole (no missing or torn file)."""
    silver = lake_table(spark, lake, "silver", DATASET)
    assert silver.groupBy("transaction_id").count().where(F.col("count") > 1).count() == 0
    catalog = lake_catalog(spark, LakeLayout.from_root(str(lake)))
    for layer in ("silver", "quarantine"):
        ref = catalog.table(layer, DATASET)
        files = spark.sql(f"SELECT file_path FROM {ref.identifier}.all_data_files").collect()
        missing = [r[0] for r in files if not Path(r[0].replace("file:", "")).exists()]
        assert not missing, f"{layer} references missing files: {missing[:3]}"
        for row in history(open_local(lake).load(f"{layer}.{DATASET}")):
            # hash(*) reads every value of every file (a bare count could be answered from metadata)
            read = spark.sql(f"SELECT count(*), sum(hash(*)) FROM {ref.identifier} VERSION AS OF {row['snapshot_id']}")
            assert read.first()[0] == row["total_rows"], (layer, row)


@pytest.fixture(scope="module")
def clean(spark, tmp_path_factory) -> dict:
    """The reference: one clean run of the date, and how long it took."""
    lake = new_lake(spark, tmp_path_factory.mktemp("clean"))
    began = time.monotonic()
    run_job(lake, "clean")
    return {"seconds": time.monotonic() - began,
            "silver": table_content(spark, lake, "silver"), "quarantine": table_content(spark, lake, "quarantine")}


def test_two_concurrent_runs_of_one_date_leave_the_lake_as_one_run_does(spark, clean, tmp_path):
    lake = new_lake(spark, tmp_path)
    scheduled, backfill = start_job(lake, "scheduled"), start_job(lake, "backfill")
    outputs = [process.communicate(timeout=900)[0] for process in (scheduled, backfill)]
    assert [scheduled.returncode, backfill.returncode] == [0, 0], "\n".join(o[-3000:] for o in outputs)
    assert table_content(spark, lake, "silver") == clean["silver"]
    assert table_content(spark, lake, "quarantine") == clean["quarantine"]
    assert_sound(spark, lake)
    runs = [row["run_id"] for row in history(open_local(lake).load(f"silver.{DATASET}"))
            if row["state"] in ("published", "current")]
    assert sorted(runs[-2:]) == ["backfill", "scheduled"]  # each committed once, one on top of the other


def test_runs_killed_at_random_points_then_rerun_leave_the_lake_as_a_clean_run(spark, clean, tmp_path):
    lake = new_lake(spark, tmp_path)
    chooser = random.Random(20261203)
    # One random point in each sixth of the clean run's duration (JVM start, read, dedupe, gate, stage,
    # publish), so every stretch of the run gets its kill, which ten uniform draws did not guarantee,
    # in 40% fewer JVM starts. A run that finishes before its point is not a kill: the run's duration
    # is taken from it, and another point is drawn in the same stretch.
    strata, kills, attempts, duration = 6, [], 0, clean["seconds"]
    while len(kills) < strata and attempts < 20:
        stretch = (duration - 1.0) / strata
        start = 1.0 + stretch * len(kills)
        delay = chooser.uniform(start, start + stretch)
        began = time.monotonic()
        process = start_job(lake, f"killed-{attempts}")
        attempts += 1
        try:
            process.wait(timeout=delay)
            duration = min(duration, time.monotonic() - began)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            kills.append(round(delay, 1))
    assert len(kills) == strata, f"only {len(kills)} of {attempts} runs were still running at their point"
    run_job(lake, "after-the-kills")
    assert table_content(spark, lake, "silver") == clean["silver"]
    assert table_content(spark, lake, "quarantine") == clean["quarantine"]
    assert_sound(spark, lake)

    # Then maintenance, its clock 8 days on: the killed runs' staged snapshots expire, the files they
    # wrote and never committed are removed as orphans, and the content stays the clean run's.
    report = maintain_tables.run(spark, {"run_date": DAY, "run_id": "maintenance-after-the-kills",
                                         "lake_root": str(lake),
                                         "now": (datetime.now(UTC) + timedelta(days=8)).isoformat()})
    assert not [t for t in report["maintained"] if t["error"]], report["maintained"]
    assert table_content(spark, lake, "silver") == clean["silver"]
    assert table_content(spark, lake, "quarantine") == clean["quarantine"]
    assert_sound(spark, lake)
    catalog = lake_catalog(spark, LakeLayout.from_root(str(lake)))
    for layer in ("silver", "quarantine"):
        ref = catalog.table(layer, DATASET)
        on_disk, referenced = data_files_of(spark, ref)
        assert on_disk == referenced, f"{layer}: files no snapshot references: {sorted(on_disk - referenced)[:3]}"
        staged = [r for r in history(open_local(lake).load(f"{layer}.{DATASET}")) if r["state"] == "staged"]
        assert not staged, f"{layer}: staged snapshots of killed runs left after expiry: {staged}"
