"""The ingestion state machine run end to end on moto's interpreter with the real jobs."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from jobs.tables import lake_table
from pipelines import cli
from pipelines.lake_tables import history, open_local
from pipelines.local_run import local_pipelines
from tests.test_bronze_to_silver import customer, txn, write_csv, write_jsonl

pytestmark = pytest.mark.integration

DAY = "2024-01-03"


def ticket(tid: str, created: str) -> dict:
    return {"ticket_id": tid, "customer_id": "C00000001", "created_at": created, "channel": "email",
            "subject": "Double charge", "body": "My card was charged twice yesterday."}


def small_lake(root: Path) -> Path:
    write_jsonl(root, "customers", DAY, [customer("C00000001", "2024-01-02T08:00:00Z"),
                                         customer("C00000002", "2024-01-03T08:00:00Z", "premium"),
                                         '{"customer_id": "C000'])
    write_csv(root, DAY, [txn("T00000000000A", "2024-01-03T10:00:00Z"),
                          txn("T00000000000A", "2024-01-03T10:00:00Z"),
                          txn("T00000000000B", "2024-01-02T10:00:00Z", amount="12,50 EUR"),
                          txn("T00000000000C", "2024-01-03T11:00:00Z", customer="C00000002")])
    write_jsonl(root, "support_tickets", DAY, [ticket("K0000000001", "2024-01-03T09:00:00Z")])
    return root


def most_at_once(history: list[dict], state: str) -> int:
    """The most executions of `state` in progress at once, from the order of the history's events."""
    running = most = 0
    for event in history:
        details = event.get("stateEnteredEventDetails") or event.get("stateExitedEventDetails") or {}
        if details.get("name") == state:
            running += 1 if event["type"].endswith("StateEntered") else -1
            most = max(most, running)
    return most


def test_ingestion_succeeds_and_the_manifest_reconciles(spark, tmp_path):
    lake = small_lake(tmp_path)
    before = datetime.now(UTC)
    with local_pipelines(lake, spark_factory=lambda: spark) as pipelines:
        run = pipelines.run("ingestion", date(2024, 1, 3))
    took = (datetime.now(UTC) - before).total_seconds()
    assert run.status == "SUCCEEDED", run.execution.render_history()
    manifest = json.loads(Path(run.manifest_path).read_text())
    # The state machine hands finalize_run the execution's start ($$.Execution.StartTime, as AWS writes it).
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", manifest["started_at"])
    assert 0 < manifest["duration_seconds"] <= took + 1
    assert (manifest["pipeline"], manifest["run_date"], manifest["status"]) == ("ingestion", DAY, "SUCCEEDED")
    assert manifest["run_id"] == "ingestion-2024-01-03"
    for name, counts in manifest["datasets"].items():
        promoted = counts["silver_rows"] + counts["quarantined_rows"] + counts["duplicate_rows"]
        assert counts["bronze_rows"] == promoted, name
    assert manifest["datasets"]["transactions"]["duplicate_rows"] == 1
    assert manifest["datasets"]["transactions"]["quarantined_by_reason"] == {"type_mismatch:amount": 1}
    assert manifest["datasets"]["customers"]["quarantined_by_reason"] == {"malformed_record": 1}
    entered = [e["stateEnteredEventDetails"]["name"] for e in run.execution.history
               if e["type"].endswith("StateEntered")]
    assert entered[:4] == ["PlanWaves", "WavesGiven", "ResolveRunDate", "PromoteDatasets"]
    assert "SilverToGold" in entered and "FinalizeRun" in entered
    # customers first (the others reference it), then the other two at once
    promoted = [r.arguments["--dataset"] for r in run.execution.glue_runs if "--dataset" in r.arguments]
    assert promoted[0] == "customers" and sorted(promoted[1:]) == ["support_tickets", "transactions"]
    assert most_at_once(run.execution.history, "BronzeToSilver") == 2
    assert lake_table(spark, lake, "gold", "customer_features").where(f"as_of_date = '{DAY}'").count() > 0
    # one commit per table the run wrote, each named with the snapshot before and after it
    assert sorted(manifest["tables"]) == [
        "gold.customer_features", "gold.daily_merchant_metrics", "quarantine.customers",
        "quarantine.support_tickets", "quarantine.transactions", "silver.customers", "silver.support_tickets",
        "silver.transactions"]
    tables = open_local(lake)
    for name, commit in manifest["tables"].items():
        assert commit["snapshot_before"] is None, name  # the first run created every table
        handle = tables.load(name)
        assert handle.metadata.current_snapshot_id == commit["snapshot_after"], name
        assert len(handle.metadata.snapshot_log) == 1, name  # exactly one commit published
        assert handle.current_snapshot().summary.additional_properties["lakehouse.run-id"] == manifest["run_id"]


def test_a_failed_run_names_dataset_file_and_reason_alerts_and_exits_non_zero(spark, tmp_path, capsys):
    lake = small_lake(tmp_path)
    # Any object of the folder is read (or quarantined whole without failing the run): a date whose
    # folder holds nothing at all is what still fails the job.
    (lake / "bronze" / "transactions" / f"ingest_date={DAY}" / "t.csv").unlink()
    code = cli.main(["run", "ingestion", "--lake-root", str(lake), "--date", DAY])
    assert code == 1
    err = capsys.readouterr().err
    assert "job bronze_to_silver (dataset=transactions" in err
    assert f"no csv files in {lake}/bronze/transactions/ingest_date={DAY}" in err
    alerts = list((lake / "ops" / "alerts").glob("*.json"))
    assert len(alerts) == 1
    assert "dataset=transactions" in alerts[0].read_text()
    manifest_file = lake / "ops" / "manifests" / "ingestion" / f"run_date={DAY}" / "ingestion-2024-01-03.json"
    manifest = json.loads(manifest_file.read_text())
    assert manifest["status"] == "FAILED"
    assert "dataset=transactions" in manifest["error"]
    assert manifest["duration_seconds"] > 0  # the Catch path's finalize_run gets the start time too
    assert not (lake / "gold").exists()  # gold is not built from a partial ingestion


def test_status_and_backfill_skip_dates_already_succeeded(spark, tmp_path, capsys):
    lake = small_lake(tmp_path)
    assert cli.main(["backfill", "ingestion", "--lake-root", str(lake), "--start", DAY, "--end", DAY]) == 0
    capsys.readouterr()
    assert cli.main(["backfill", "ingestion", "--lake-root", str(lake), "--start", DAY, "--end", DAY]) == 0
    assert "SKIPPED" in capsys.readouterr().out
    assert cli.main(["status", "--lake-root", str(lake)]) == 0
    [header, _rule, row] = capsys.readouterr().out.strip().splitlines()  # one run: a table of one row
    assert header.startswith("finished") and "ingestion" in row and "SUCCEEDED" in row and DAY in row


def test_a_scheduled_run_takes_its_run_date_from_the_schedule_time(tmp_path):
    """EventBridge cannot compute a date: the definition derives it from `scheduled_time`."""
    from pipelines.local_engine import LocalStepFunctions
    from pipelines.registry import PIPELINES

    calls: list[tuple[str, dict]] = []
    spec = PIPELINES["ingestion"]
    scheduled = {"trigger": "schedule", "pipeline": "ingestion", "scheduled_time": "2024-01-03T23:30:00Z",
                 "run_id": "scheduled-1", "datasets": ["customers"]}
    with LocalStepFunctions(lambda name, args: calls.append((name, args)), tmp_path / "alerts") as engine:
        result = engine.run(spec.definition_path, spec.placeholders, scheduled, "scheduled-1", "ingestion")
    assert result.status == "SUCCEEDED", result.render_history()
    assert {args["--run_date"] for _, args in calls} == {DAY}
    name, finalize_args = calls[-1]
    started_at = finalize_args.pop("--started_at")
    assert (name, finalize_args) == ("finalize_run", {"--run_date": DAY, "--run_id": "scheduled-1",
                                                      "--pipeline": "ingestion", "--status": "SUCCEEDED"})
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", started_at)


def odd_currency(tid: str, ts: str) -> list[str]:
    """A transaction the contract accepts (currency is any string) but the silver suite does not."""
    row = txn(tid, ts)
    row[4] = "XYZ"
    return row


def test_quality_gate_routes_rows_then_a_fail_expectation_fails_the_run_and_publishes_nothing(
        spark, tmp_path, monkeypatch, capsys):
    import shutil

    from jobs.quality.suites import suites_dir

    lake = small_lake(tmp_path)
    write_csv(lake, DAY, [odd_currency("T00000000000F", "2024-01-03T12:00:00Z")], name="odd-currency.csv")
    with local_pipelines(lake, spark_factory=lambda: spark) as pipelines:
        run = pipelines.run("ingestion", date(2024, 1, 3))
    assert run.status == "SUCCEEDED", run.execution.render_history()
    reasons = run.manifest["datasets"]["transactions"]["quarantined_by_reason"]
    assert any("expect_column_values_to_be_in_set(currency)" in reason for reason in reasons), reasons
    assert "expect_column_values_to_be_in_set(currency)" in str(
        lake_table(spark, lake, "quarantine", "transactions").where("record_key = 'T00000000000F'")
        .first()["reason"])

    # The same rule at severity `fail`: the next day's run fails and silver stays as it was.
    suites = tmp_path / "suites"
    shutil.copytree(suites_dir(), suites)
    suite_file = suites / "silver" / "transactions.json"
    suite = json.loads(suite_file.read_text())
    for expectation in suite["expectations"]:
        if expectation["type"] == "expect_column_values_to_be_in_set" and expectation["kwargs"]["column"] == "currency":
            expectation["meta"]["severity"] = "fail"
    suite_file.write_text(json.dumps(suite))
    monkeypatch.setenv("LAKEHOUSE_EXPECTATIONS_DIR", str(suites))
    next_day = "2024-01-04"
    write_jsonl(lake, "customers", next_day, [customer("C00000001", "2024-01-04T08:00:00Z", "premium")])
    write_jsonl(lake, "support_tickets", next_day, [ticket("K0000000002", "2024-01-04T09:00:00Z")])
    write_csv(lake, next_day, [odd_currency("T0000000000A1", "2024-01-03T13:00:00Z")])
    silver_before = open_local(lake).load("silver.transactions").metadata.current_snapshot_id
    capsys.readouterr()
    assert cli.main(["run", "ingestion", "--lake-root", str(lake), "--date", next_day]) == 1
    err = capsys.readouterr().err
    assert "transactions" in err and "expect_column_values_to_be_in_set" in err and "currency" in err
    # write-audit-publish: the staged snapshot was refused, main still points where it did
    assert open_local(lake).load("silver.transactions").metadata.current_snapshot_id == silver_before
    assert f"main left at snapshot {silver_before}" in err and "refused" in err
    staged = [row for row in history(open_local(lake).load("silver.transactions")) if row["state"] == "staged"]
    assert {row["run_id"] for row in staged} == {f"ingestion-{next_day}"}  # refused (once per job attempt)
    alerts = sorted((lake / "ops" / "alerts").glob("*.json"))
    # the wave's other datasets run beside transactions and may alert too: one of the alerts names the rule
    assert any("expect_column_values_to_be_in_set" in alert.read_text() for alert in alerts), alerts
