"""The ingestion pipeline's materialize_features state on the shared ingested lake: the online store
equals gold, `lakehouse features get|check` read it, and an older backfill leaves newer values alone."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jobs.lake import LakeLayout
from jobs.materialize_features import run
from jobs.online.records import FeatureRecord
from jobs.online.sqlite_store import SqliteStore
from jobs.online.stores import sqlite_path
from jobs.storage import read_json
from pipelines.cli import main
from pipelines.online_features import compare, gold_rows
from tests.shared_lake import DAYS, START

LAST_DAY = START + timedelta(days=DAYS - 1)

pytestmark = pytest.mark.integration


def job_report(lake: Path, run_date: date) -> dict[str, Any]:
    layout = LakeLayout.from_root(str(lake))
    folder = Path(layout.run_reports_dir("ingestion", run_date, f"ingestion-{run_date.isoformat()}"))
    return read_json(str(folder / "materialize_features.json"))


def test_each_ingestion_run_materialises_its_day(ingested_lake: Any) -> None:
    for offset in range(DAYS):
        day = START + timedelta(days=offset)
        report = job_report(ingested_lake.root, day)
        gold = len(gold_rows(ingested_lake.root, day))
        assert report["inputs"]["customer_features"]["rows_read"] == gold > 0
        assert report["online_store"]["written"] == gold and report["online_store"]["skipped_older"] == 0
        assert report["online_store"]["store"].endswith("ops/online/customer_features.sqlite")


def test_features_get_returns_gold_values(ingested_lake: Any, capsys: pytest.CaptureFixture[str]) -> None:
    row = sorted(gold_rows(ingested_lake.root, LAST_DAY), key=lambda r: r["customer_id"])[0]
    assert main(["features", "get", "--customer-id", row["customer_id"], "--lake-root", str(ingested_lake.root)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == FeatureRecord.from_row(row).as_json()
    assert printed["as_of_date"] == LAST_DAY.isoformat()
    assert printed["features"]["txn_count_30d"] == row["txn_count_30d"]
    assert main(["features", "get", "--customer-id", "C-nobody", "--lake-root", str(ingested_lake.root)]) == 2


def test_features_check_finds_no_mismatch(ingested_lake: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["features", "check", "--date", LAST_DAY.isoformat(), "--sample", "0",
                 "--lake-root", str(ingested_lake.root)]) == 0
    assert ", 0 mismatches, 0 already newer online" in capsys.readouterr().out


def test_an_older_backfill_leaves_newer_online_values(spark: Any, ingested_lake: Any, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Re-materialise the first day into a copy of the lake's online store (the shared lake is left as is)."""
    ops = tmp_path / "ops"
    store_file = Path(sqlite_path(str(ops)))
    store_file.parent.mkdir(parents=True)
    shutil.copy2(sqlite_path(LakeLayout.from_root(str(ingested_lake.root)).ops), store_file)
    before = SqliteStore(str(store_file)).get_many(r["customer_id"] for r in gold_rows(ingested_lake.root, LAST_DAY))

    report = run(spark, {"run_date": START.isoformat(), "run_id": "backfill-1", "lake_root": str(ingested_lake.root),
                         "ops_root": str(ops)})
    first_day = len(gold_rows(ingested_lake.root, START))
    assert report["online_store"]["skipped_older"] == first_day and report["online_store"]["written"] == 0
    after = SqliteStore(str(store_file)).get_many(before)
    assert after == before and {r.as_of_date for r in after.values()} == {LAST_DAY.isoformat()}

    # `features check` of the older date: every item is newer online, which is not a mismatch
    store = SqliteStore(str(store_file))
    result = compare([FeatureRecord.from_row(r) for r in gold_rows(ingested_lake.root, START)],
                     store.get_many(r["customer_id"] for r in gold_rows(ingested_lake.root, START)),
                     START.isoformat())
    assert (result.mismatches, result.newer_online) == ([], first_day)


def test_check_names_the_customers_whose_values_differ() -> None:
    gold = [FeatureRecord("c1", "2024-01-03", "v1", {"n": Decimal(3), "s": "a"}),
            FeatureRecord("c2", "2024-01-03", "v1", {"n": Decimal(1)}),
            FeatureRecord("c3", "2024-01-03", "v1", {"n": Decimal(1)}),
            FeatureRecord("c4", "2024-01-03", "v1", {"n": Decimal(1)}),
            FeatureRecord("c5", "2024-01-03", "v1", {"n": Decimal(1)})]
    online = {"c1": FeatureRecord("c1", "2024-01-03", "v1", {"n": Decimal(4), "s": "a"}),
              "c2": FeatureRecord("c2", "2024-01-02", "v1", {"n": Decimal(1)}),
              "c4": FeatureRecord("c4", "2024-01-03", "v0", {"n": Decimal(1)}),
              "c5": FeatureRecord("c5", "2024-01-04", "v1", {"n": Decimal(9)})}
    result = compare(gold, online, "2024-01-03")
    assert [(m["customer_id"], m["reason"]) for m in result.mismatches] == [
        ("c1", "1 feature(s) differ (n: gold 3 online 4)"),
        ("c2", "online holds as_of_date 2024-01-02, older than 2024-01-03"),
        ("c3", "not in the online store (never materialised, or expired)"),
        ("c4", "feature-set version v0 online, v1 in gold"),
    ]
    assert (result.compared, result.newer_online) == (5, 1)
    assert "4 mismatches" in result.lines("sqlite:x")[0]
