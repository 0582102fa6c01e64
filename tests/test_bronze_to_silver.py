"""The bronze_to_silver job on small hand-written bronze folders."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from bench.ungated import run_bronze_to_silver
from jobs import bronze_to_silver
from jobs.bronze import BronzeReadError
from jobs.contracts import contracts_dir
from jobs.lake import LakeLayout
from jobs.tables import current_snapshot, lake_catalog, lake_table
from tests.frames import assert_rows

HEADER = ["transaction_id", "customer_id", "card_number", "amount", "currency", "merchant_id",
          "merchant_category", "event_time", "channel", "ip_address", "is_fraud"]


def txn(tid: str, ts: str, amount: str = "10.00", customer: str = "C00000001") -> list[str]:
    return [tid, customer, "4111111111111111", amount, "usd", "M000001", "grocery", ts, "online", "10.0.0.1", "false"]


def write_csv(lake: Path, day: str, rows: list[list[str]], name: str = "t.csv", header=HEADER) -> None:
    folder = lake / "bronze" / "transactions" / f"ingest_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / name).open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def customer(cid: str, updated: str, segment: str = "consumer", **extra) -> dict:
    return {"customer_id": cid, "first_name": "Ann", "last_name": "Lee", "email": "a@x.com", "country": "US",
            "segment": segment, "created_at": "2023-06-01T00:00:00Z", "updated_at": updated, **extra}


def write_jsonl(lake: Path, dataset: str, day: str, records: list[dict | str]) -> None:
    folder = lake / "bronze" / dataset / f"ingest_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    (folder / f"{dataset}.jsonl").write_text("\n".join(lines) + "\n")


def run_job(spark, lake: Path, dataset: str, day: str, run_id: str = "run-1") -> dict:
    return bronze_to_silver.run(spark, {"dataset": dataset, "run_date": day, "lake_root": str(lake),
                                        "run_id": run_id})


def silver(spark, lake: Path, dataset: str):
    return lake_table(spark, lake, "silver", dataset)


def quarantine(spark, lake: Path, dataset: str):
    return lake_table(spark, lake, "quarantine", dataset)


def main_snapshots(spark, lake: Path) -> dict[str, int | None]:
    """What readers see of every table: the snapshot each table's main points at."""
    catalog = lake_catalog(spark, LakeLayout.from_root(str(lake)))
    return {f"{layer}.{name}": current_snapshot(spark, catalog.table(layer, name))
            for layer in ("silver", "quarantine") for name in ("customers", "transactions")}


def test_counts_reconcile_and_every_flaw_is_quarantined_with_its_reason(spark, tmp_path):
    write_csv(tmp_path, "2024-01-03", [
        txn("T00000000000A", "2024-01-03T10:00:00Z"),
        txn("T00000000000A", "2024-01-03T10:00:00Z"),              # exact duplicate
        txn("T00000000000B", "2024-01-03T11:00:00Z", amount="abc"),  # wrong type
        txn("T00000000000C", "2024-01-01T09:00:00Z"),              # late arrival
        txn("T00000000000D", "2024-01-03T12:00:00Z", customer=""),  # missing required
        ["T00000000000E", "C00000001", "4111"],                     # wrong number of fields
    ])
    report = run_job(spark, tmp_path, "transactions", "2024-01-03")
    assert (report["bronze_rows"], report["silver_rows"], report["quarantined_rows"], report["duplicate_rows"]) == (
        6, 2, 3, 1)
    assert report["quarantined_by_reason"] == {
        "malformed_record": 1, "missing_required:customer_id": 1, "type_mismatch:amount": 1}
    assert sorted(report["partitions_published"]) == ["year=2024/month=01/day=01", "year=2024/month=01/day=03"]
    assert_rows(silver(spark, tmp_path, "transactions"), [
        {"transaction_id": "T00000000000A", "day": "03", "_ingest_date": __import__("datetime").date(2024, 1, 3)},
        {"transaction_id": "T00000000000C", "day": "01", "_ingest_date": __import__("datetime").date(2024, 1, 3)},
    ])
    quarantined = quarantine(spark, tmp_path, "transactions")
    assert_rows(quarantined, [
        {"record_key": "T00000000000B", "reason": "type_mismatch:amount"},
        {"record_key": "T00000000000D", "reason": "missing_required:customer_id"},
        {"record_key": "", "reason": "malformed_record"},
    ])
    malformed = quarantined.where("reason = 'malformed_record'").first()
    assert malformed["raw_record"].startswith("T00000000000E,C00000001,4111")
    assert malformed["source_file"].endswith("ingest_date=2024-01-03/t.csv")


def test_a_newer_version_replaces_the_older_one_across_ingests_and_partitions(spark, tmp_path):
    write_jsonl(tmp_path, "customers", "2024-01-01", [customer("C00000001", "2024-01-01T08:00:00Z"),
                                                       customer("C00000002", "2024-01-01T09:00:00Z")])
    run_job(spark, tmp_path, "customers", "2024-01-01")
    write_jsonl(tmp_path, "customers", "2024-01-03", [customer("C00000001", "2024-01-03T08:00:00Z", "premium")])
    report = run_job(spark, tmp_path, "customers", "2024-01-03", run_id="run-2")
    assert report["silver_rows"] == 1
    assert sorted(report["partitions_published"]) == ["year=2024/month=01/day=01", "year=2024/month=01/day=03"]
    assert_rows(silver(spark, tmp_path, "customers"), [
        {"customer_id": "C00000001", "segment": "premium", "day": "03", "_run_id": "run-2"},
        {"customer_id": "C00000002", "segment": "consumer", "day": "01", "_run_id": "run-1"},
    ])


def test_earlier_versions_are_looked_for_only_within_the_contracts_match_window(spark, tmp_path):
    # transactions: dedupe.match_window_days is 3
    write_csv(tmp_path, "2024-01-01", [txn("T00000000000A", "2024-01-01T10:00:00Z"),
                                       txn("T00000000000B", "2024-01-01T11:00:00Z")])
    run_job(spark, tmp_path, "transactions", "2024-01-01")
    write_csv(tmp_path, "2024-01-12", [txn("T00000000000A", "2024-01-03T10:00:00Z", amount="20.00"),
                                       txn("T00000000000B", "2024-01-11T11:00:00Z", amount="30.00")])
    report = run_job(spark, tmp_path, "transactions", "2024-01-12", run_id="run-2")
    assert (report["silver_rows"], report["duplicate_rows"]) == (2, 0)
    assert sorted(report["partitions_published"]) == [
        "year=2024/month=01/day=01", "year=2024/month=01/day=03", "year=2024/month=01/day=11"]
    assert_rows(silver(spark, tmp_path, "transactions"), [
        {"transaction_id": "T00000000000A", "day": "03", "_run_id": "run-2"},  # 2 days apart: replaced
        {"transaction_id": "T00000000000B", "day": "01", "_run_id": "run-1"},  # 10 days apart: not searched
        {"transaction_id": "T00000000000B", "day": "11", "_run_id": "run-2"},
    ])


def test_an_older_version_arriving_late_is_a_duplicate_and_changes_nothing(spark, tmp_path):
    write_jsonl(tmp_path, "customers", "2024-01-03", [customer("C00000001", "2024-01-03T08:00:00Z", "premium")])
    run_job(spark, tmp_path, "customers", "2024-01-03")
    before = [r.asDict() for r in silver(spark, tmp_path, "customers").collect()]
    write_jsonl(tmp_path, "customers", "2024-01-04", [customer("C00000001", "2024-01-02T08:00:00Z")])
    report = run_job(spark, tmp_path, "customers", "2024-01-04", run_id="run-2")
    assert (report["silver_rows"], report["duplicate_rows"], report["duplicates_superseded_by_silver"]) == (0, 1, 1)
    assert_rows(silver(spark, tmp_path, "customers"), before)


def test_rerunning_a_date_gives_the_same_rows(spark, tmp_path):
    write_jsonl(tmp_path, "customers", "2024-01-01", [customer("C00000001", "2024-01-01T08:00:00Z")])
    run_job(spark, tmp_path, "customers", "2024-01-01")
    write_jsonl(tmp_path, "customers", "2024-01-02", [customer("C00000001", "2024-01-02T08:00:00Z", "premium"),
                                                       customer("C00000003", "2024-01-01T23:00:00Z"),
                                                       '{"customer_id": "C0000000', customer("bad", "x")])
    first = run_job(spark, tmp_path, "customers", "2024-01-02", run_id="run-2")
    data_columns = [c for c in silver(spark, tmp_path, "customers").columns if c not in ("_run_id", "_processed_at")]
    snapshot = silver(spark, tmp_path, "customers").select(*data_columns).collect()
    second = run_job(spark, tmp_path, "customers", "2024-01-02", run_id="run-3")
    assert_rows(silver(spark, tmp_path, "customers"), [r.asDict() for r in snapshot], data_columns)
    for field in ("bronze_rows", "silver_rows", "quarantined_rows", "duplicate_rows", "quarantined_by_reason"):
        assert first[field] == second[field], field
    assert quarantine(spark, tmp_path, "customers").count() == first["quarantined_rows"] == 2  # replaced, not added


def test_a_batch_over_the_small_batch_size_is_persisted_and_promotes_the_same_rows(spark, tmp_path, monkeypatch):
    """Small batches are checkpointed, larger ones persisted (jobs/batch_cache.py): same rows either way."""
    from jobs import batch_cache

    days = {"2024-01-01": [txn("T00000000000A", "2024-01-01T10:00:00Z"), txn("T00000000000B", "2024-01-01T11:00:00Z")],
            "2024-01-02": [txn("T00000000000A", "2024-01-02T10:00:00Z", amount="12.00"),   # a newer version
                           txn("T00000000000C", "2024-01-02T09:00:00Z"),
                           txn("T00000000000C", "2024-01-02T09:00:00Z"),                   # an in-batch duplicate
                           txn("T00000000000D", "2024-01-02T12:00:00Z", amount="abc")]}
    outcomes = {}
    for mode, limit in (("checkpointed", batch_cache.SMALL_BATCH_BYTES), ("persisted", 0)):
        monkeypatch.setattr(batch_cache, "SMALL_BATCH_BYTES", limit)
        lake = tmp_path / mode
        reports = []
        for day, rows in days.items():
            write_csv(lake, day, rows)
            reports.append(run_job(spark, lake, "transactions", day, run_id=f"run-{day}"))
        counts = [(r["silver_rows"], r["quarantined_rows"], r["duplicate_rows"]) for r in reports]
        rows = sorted((r["transaction_id"], str(r["amount"]), r["day"])
                      for r in silver(spark, lake, "transactions").collect())
        outcomes[mode] = (counts, rows, quarantine(spark, lake, "transactions").count())
    assert outcomes["checkpointed"] == outcomes["persisted"]
    assert outcomes["persisted"][0] == [(2, 0, 0), (2, 1, 1)]  # A replaced, C once, D refused
    assert spark.sparkContext._jsc.sc().getRDDStorageInfo() == [] or all(
        info.numCachedPartitions() == 0 for info in spark.sparkContext._jsc.sc().getRDDStorageInfo())


def test_refused_new_column_fails_before_publishing(spark, tmp_path, monkeypatch):
    override = tmp_path / "contracts"
    override.mkdir()
    doc = yaml.safe_load((contracts_dir() / "customers.yaml").read_text())
    doc["drift"]["new_columns"] = "fail"
    (override / "customers.yaml").write_text(yaml.safe_dump(doc))
    write_jsonl(tmp_path, "customers", "2024-01-01", [customer("C00000001", "2024-01-01T08:00:00Z")])
    run_job(spark, tmp_path, "customers", "2024-01-01")
    before = main_snapshots(spark, tmp_path)
    monkeypatch.setenv("LAKEHOUSE_CONTRACTS_DIR", str(override))
    write_jsonl(tmp_path, "customers", "2024-01-02",
                [customer("C00000001", "2024-01-02T08:00:00Z", notes="call me at a@b.com")])
    with pytest.raises(bronze_to_silver.SchemaDriftError, match=r"notes in .*ingest_date=2024-01-02/customers.jsonl"):
        run_job(spark, tmp_path, "customers", "2024-01-02", run_id="run-2")
    assert main_snapshots(spark, tmp_path) == before


def test_csv_files_with_different_headers_are_read_each_with_its_own(spark, tmp_path):
    write_csv(tmp_path, "2024-01-03", [txn("T00000000000A", "2024-01-03T10:00:00Z")])
    write_csv(tmp_path, "2024-01-03", [[*txn("T00000000000F", "2024-01-03T10:00:00Z"), "SPRING"],
                                       [*txn("T000000000001", "2024-01-03T10:00:00Z"), ""]],
              name="partner.csv", header=[*HEADER, "promo_code"])
    report = run_job(spark, tmp_path, "transactions", "2024-01-03")
    assert report["quarantined_by_reason"] == {"unexpected_column:promo_code": 1}
    assert report["silver_rows"] == 2  # an empty value in the new column is not drift


def test_no_bronze_files_is_a_clear_error(spark, tmp_path):
    with pytest.raises(BronzeReadError, match=r"dataset transactions: no csv files in .*ingest_date=2024-01-09"):
        run_job(spark, tmp_path, "transactions", "2024-01-09")


def test_reconciliation_counts_what_was_written_and_publishes_nothing_on_a_loss(spark, tmp_path, monkeypatch):
    write_jsonl(tmp_path, "customers", "2024-01-01", [customer("C00000001", "2024-01-01T08:00:00Z")])
    run_job(spark, tmp_path, "customers", "2024-01-01")
    before = main_snapshots(spark, tmp_path)
    write_jsonl(tmp_path, "customers", "2024-01-02", [customer("C00000002", "2024-01-01T09:00:00Z"),
                                                       customer("C00000003", "2024-01-01T10:00:00Z")])
    real_merge = bronze_to_silver.merge_partition_content
    monkeypatch.setattr(bronze_to_silver, "merge_partition_content",  # a bug that loses one new row
                        lambda existing, winners, replaced, key: real_merge(existing, winners.limit(1), replaced, key))
    with pytest.raises(bronze_to_silver.ReconciliationError, match="bronze 2 != silver written 1"):
        run_job(spark, tmp_path, "customers", "2024-01-02", run_id="run-2")
    assert main_snapshots(spark, tmp_path) == before  # staged, audited, refused: readers see nothing new


def test_a_relative_lake_root_works_as_the_default_does(spark, tmp_path, monkeypatch):
    """`make run` uses ./lake: relative paths must reach Spark as absolute file URIs, '=' unescaped."""
    monkeypatch.chdir(tmp_path)
    write_jsonl(Path("lake"), "customers", "2024-01-01", [customer("C00000001", "2024-01-01T08:00:00Z")])
    report = bronze_to_silver.run(spark, {"dataset": "customers", "run_date": "2024-01-01", "lake_root": "lake"})
    assert report["silver_rows"] == 1
    assert (tmp_path / "lake" / "silver" / "customers" / "data" / "year=2024" / "month=01" / "day=01").is_dir()
    assert list((tmp_path / "lake" / "silver" / "customers" / "metadata").glob("*.metadata.json"))


def test_the_benchmark_only_ungated_run_promotes_the_same_rows_and_says_the_gate_was_skipped(spark, tmp_path):
    """bench/quality_bench.py compares the job with and without its gate (bench/ungated.py composes the
    job's steps minus the gate): both must do the same work apart from the gate, and a report of the
    ungated run must not pass for a validated one."""
    records = [customer("C00000001", "2024-01-01T08:00:00Z"), customer("C00000002", "2024-01-01T09:00:00Z"),
               '{"customer_id": "C0000000']
    gated_lake, ungated_lake = tmp_path / "gated", tmp_path / "ungated"
    for lake in (gated_lake, ungated_lake):
        write_jsonl(lake, "customers", "2024-01-01", records)
    gated = run_job(spark, gated_lake, "customers", "2024-01-01")
    ungated = run_bronze_to_silver(spark, {"dataset": "customers", "run_date": "2024-01-01",
                                           "lake_root": str(ungated_lake), "run_id": "run-1"}, gate=False)

    assert ungated["quality"]["status"] == "skipped" and gated["quality"]["status"] != "skipped"
    # The report times each phase; the ungated run has no gate phase to time.
    assert list(gated["phase_seconds"]) == ["inspect", "split", "pii_discovery", "quality_gate", "write", "total"]
    assert list(ungated["phase_seconds"]) == ["inspect", "split", "pii_discovery", "write", "total"]
    phases = gated["phase_seconds"]
    assert min(phases.values()) >= 0 and phases["split"] > 0 and phases["write"] > 0
    assert phases["total"] >= sum(v for k, v in phases.items() if k != "total")
    for field in ("bronze_rows", "silver_rows", "quarantined_rows", "duplicate_rows"):
        assert gated[field] == ungated[field], field
    columns = ["customer_id", "email", "segment"]
    assert_rows(silver(spark, ungated_lake, "customers"),
                [r.asDict() for r in silver(spark, gated_lake, "customers").select(*columns).collect()], columns)


def _manifest(lake: Path, day: str, run_id: str, status: str, finished: str, silver_rows: int) -> None:
    folder = lake / "ops" / "manifests" / "ingestion" / f"run_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{run_id}.json").write_text(json.dumps({
        "pipeline": "ingestion", "run_date": day, "run_id": run_id, "status": status, "finished_at": finished,
        "datasets": {"customers": {"bronze_rows": silver_rows, "silver_rows": silver_rows, "quarantined_rows": 0,
                                   "duplicate_rows": 0}}}))


def test_previous_promoted_rows_come_from_the_previous_days_latest_successful_run(tmp_path):
    from datetime import date

    from jobs.lake import LakeLayout
    from jobs.run_history import previous_promoted_rows

    layout = LakeLayout.from_root(str(tmp_path))
    assert previous_promoted_rows(layout, "customers", date(2024, 1, 2)) is None  # first day: nothing to compare
    _manifest(tmp_path, "2024-01-01", "ingestion-2024-01-01", "SUCCEEDED", "2024-01-01T23:40:00+00:00", 90)
    _manifest(tmp_path, "2024-01-01", "ingestion-2024-01-01-attempt-2", "SUCCEEDED", "2024-01-02T08:00:00+00:00", 100)
    _manifest(tmp_path, "2024-01-01", "ingestion-2024-01-01-attempt-3", "FAILED", "2024-01-02T09:00:00+00:00", 5)
    assert previous_promoted_rows(layout, "customers", date(2024, 1, 2)) == 100
    assert previous_promoted_rows(layout, "transactions", date(2024, 1, 2)) is None


def test_the_row_count_is_checked_against_the_previous_days_promoted_rows(spark, tmp_path):
    """The suites' `row_count_vs_previous_partition` (warn) gets its previous count from the day before's
    manifest: skipped on the first day, evaluated (and here warning: 2 rows after 100) on the next."""
    label = "row_count_vs_previous_partition"
    write_jsonl(tmp_path, "customers", "2024-01-01", [customer("C00000001", "2024-01-01T08:00:00Z")])
    first = run_job(spark, tmp_path, "customers", "2024-01-01")
    assert label in [item["expectation"] for item in first["quality"]["skipped"]]

    _manifest(tmp_path, "2024-01-01", "ingestion-2024-01-01", "SUCCEEDED", "2024-01-01T23:40:00+00:00", 100)
    write_jsonl(tmp_path, "customers", "2024-01-02", [customer("C00000002", "2024-01-02T08:00:00Z"),
                                                       customer("C00000003", "2024-01-02T09:00:00Z")])
    second = run_job(spark, tmp_path, "customers", "2024-01-02", run_id="run-2")
    assert label not in [item["expectation"] for item in second["quality"]["skipped"]]
    assert any(label in str(warning) or "row_count" in str(warning) for warning in second["quality"]["warnings"]), \
        second["quality"]
    assert second["silver_rows"] == 2  # a warning promotes the rows all the same
