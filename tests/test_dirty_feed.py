"""Every flaw the generator's --dirty mode injects ends where it should, and the counts reconcile.

The generator labels each flawed bronze line (outside bronze, under `_labels/`); this test checks the
pipeline's outcome for each label, not just totals.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from pipelines.local_run import local_pipelines
from pipelines.synthetic import generate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START, DAYS = date(2024, 1, 1), 2
KEYS = {"customers": "customer_id", "transactions": "transaction_id", "support_tickets": "ticket_id"}
EXPECTED_REASON = {"null_required": "missing_required:{column}", "wrong_type": "type_mismatch:{column}",
                   "extra_column": "unexpected_column:{column}", "malformed": "malformed_record"}


@pytest.fixture(scope="module")
def dirty_lake(spark, tmp_path_factory) -> Path:
    lake = tmp_path_factory.mktemp("dirty") / "lake"
    generate(lake, START, DAYS, 240, seed=3, dirty=True)
    with local_pipelines(lake, spark_factory=lambda: spark) as pipelines:
        for offset in range(DAYS):
            run = pipelines.run("ingestion", START + timedelta(days=offset))
            assert run.status == "SUCCEEDED", run.execution.render_history()
    return lake


def labels(lake: Path, day: date) -> dict:
    return json.loads((lake / "_labels" / "dirty" / f"ingest_date={day.isoformat()}.json").read_text())


def manifest(lake: Path, day: date) -> dict:
    path = lake / "ops" / "manifests" / "ingestion" / f"run_date={day}" / f"ingestion-{day}.json"
    return json.loads(path.read_text())


@pytest.mark.parametrize("offset", range(DAYS))
def test_counts_reconcile_with_what_was_written(dirty_lake, offset):
    day = START + timedelta(days=offset)
    written = labels(dirty_lake, day)["datasets"]
    for dataset, counts in manifest(dirty_lake, day)["datasets"].items():
        assert counts["bronze_rows"] == written[dataset]["rows_written"], dataset
        assert counts["bronze_rows"] == (counts["silver_rows"] + counts["quarantined_rows"]
                                         + counts["duplicate_rows"]), dataset


@pytest.mark.parametrize("offset", range(DAYS))
def test_each_quarantine_flaw_is_quarantined_with_its_reason(spark, dirty_lake, offset):
    day = START + timedelta(days=offset)
    for dataset, info in labels(dirty_lake, day)["datasets"].items():
        quarantine = spark.read.parquet(str(dirty_lake / "quarantine" / dataset / f"ingest_date={day}"))
        rows = quarantine.select("source_file", "record_key", "reasons").collect()
        by_key = {(Path(r["source_file"]).name, r["record_key"]): set(r["reasons"]) for r in rows}
        # Records without a usable key (malformed, or the key itself missing) are matched by file and reason.
        expected_keyless: Counter[tuple[str, str]] = Counter()
        for flaw in info["flaws"]:
            if flaw["flaw"] not in EXPECTED_REASON:
                continue
            reason = EXPECTED_REASON[flaw["flaw"]].format(column=flaw["column"])
            if flaw["flaw"] == "malformed" or flaw["column"] == KEYS[dataset]:
                expected_keyless[(Path(flaw["file"]).name, reason)] += 1
                continue
            found = by_key.get((Path(flaw["file"]).name, flaw["key"]))
            assert found is not None and reason in found, (dataset, flaw, found)
        keyless = Counter((Path(r["source_file"]).name, r["reasons"][0]) for r in rows
                          if r["reasons"][0] == "malformed_record" or r["reasons"][0].endswith(":" + KEYS[dataset]))
        assert keyless == expected_keyless, dataset
        assert len(rows) == sum(1 for f in info["flaws"] if f["flaw"] in EXPECTED_REASON), dataset


@pytest.mark.parametrize("offset", range(DAYS))
def test_duplicates_are_counted_and_late_records_land_in_their_event_day(spark, dirty_lake, offset):
    day = START + timedelta(days=offset)
    counts = manifest(dirty_lake, day)["datasets"]
    for dataset, info in labels(dirty_lake, day)["datasets"].items():
        flaws = Counter(f["flaw"] for f in info["flaws"])
        assert counts[dataset]["duplicate_rows"] == flaws["exact_duplicate"] + flaws["stale_resend"], dataset
        silver = spark.read.parquet(str(dirty_lake / "silver" / dataset))
        contract_key = KEYS[dataset]
        for flaw in (f for f in info["flaws"] if f["flaw"] == "late_arrival"):
            event_day = flaw["value"][:10]
            landed = silver.where(F.col(contract_key) == flaw["key"]).select(
                F.concat_ws("-", "year", "month", "day").alias("partition")).collect()
            assert [r["partition"] for r in landed] == [event_day], (dataset, flaw)
