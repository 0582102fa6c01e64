"""A file is the unit of failure, never the run: contract options, a date with nothing readable, the
file-level lines of the run summary and `lakehouse quality`, and the contract fields behind them."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import yaml

from jobs import bronze_to_silver
from jobs.bronze import BronzeReadError
from jobs.contracts import ContractError, contracts_dir, load_contract, parse_contract, referenced_pattern
from pipelines import cli
from pipelines.summary import manifest_lines
from tests.bronze_corpus import csv_text, txn

DAY = "2024-01-03"


def folder(lake: Path) -> Path:
    path = lake / "bronze" / "transactions" / f"ingest_date={DAY}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(spark, lake: Path) -> dict:
    return bronze_to_silver.run(spark, {"dataset": "transactions", "run_date": DAY, "lake_root": str(lake),
                                        "run_id": "run-1"})


def truncated_gzip() -> bytes:
    full = gzip.compress(csv_text([txn(1, r) for r in range(40)]).encode())
    return full[: len(full) // 2]


def test_on_unreadable_file_fail_stops_the_job_naming_the_file(spark, tmp_path, monkeypatch):
    contracts = tmp_path / "contracts"
    shutil.copytree(contracts_dir(), contracts, ignore=shutil.ignore_patterns("__*"))
    document = yaml.safe_load((contracts / "transactions.yaml").read_text())
    (contracts / "transactions.yaml").write_text(yaml.safe_dump({**document, "on_unreadable_file": "fail"}))
    monkeypatch.setenv("LAKEHOUSE_CONTRACTS_DIR", str(contracts))
    lake = tmp_path / "lake"
    (folder(lake) / "good.csv").write_text(csv_text([txn(2, 0)], lineterminator="\n"))
    (folder(lake) / "cut.csv.gz").write_bytes(truncated_gzip())
    with pytest.raises(BronzeReadError, match=r"cut\.csv\.gz .*sha256 [0-9a-f]{64}.*truncated_gzip.*fail"):
        run(spark, lake)
    assert not (lake / "silver").exists()


def test_a_date_with_nothing_readable_succeeds_and_records_each_file(spark, tmp_path, capsys):
    lake = tmp_path / "lake"
    (folder(lake) / "empty.csv").write_bytes(b"")
    (folder(lake) / "cut.csv.gz").write_bytes(truncated_gzip())
    (folder(lake) / "_SUCCESS").write_bytes(b"")
    report = run(spark, lake)
    assert (report["bronze_rows"], report["silver_rows"], report["quarantined_rows"]) == (1, 0, 1)
    assert report["quarantined_by_reason"] == {"unreadable_file:truncated_gzip": 1}
    assert {Path(f["file"]).name: f["outcome"] for f in report["files"]} == {
        "empty.csv": "empty", "cut.csv.gz": "quarantined", "_SUCCESS": "skipped"}
    assert report["files_summary"] == {"listed": 3, "read": 0, "header_only": 0, "empty": 1, "skipped": 1,
                                       "quarantined": 1, "reconciled": True}
    # The run summary and `lakehouse quality` name the file quarantined whole.
    lines = manifest_lines({"pipeline": "ingestion", "run_date": DAY, "run_id": "run-1", "status": "SUCCEEDED",
                            "datasets": {"transactions": report}})
    assert any("quarantined whole:" in line and "cut.csv.gz" in line and "truncated_gzip" in line for line in lines)
    assert any("files not read: 1 empty, 1 skipped" in line for line in lines)
    cli.main(["quality", "--lake-root", str(lake), "--date", DAY])
    out = capsys.readouterr().out
    assert "bronze files quarantined whole for run date 2024-01-03 (1)" in out and "cut.csv.gz" in out


def test_contract_bronze_options_are_checked():
    base = {"name": "d", "format": "csv", "key": ["id"], "event_time": "ts",
            "columns": [{"name": "id", "type": "string"}, {"name": "ts", "type": "timestamp"}]}
    contract = parse_contract({**base, "encoding": "CP1252", "on_unreadable_file": "fail"}, "d.yaml")
    assert (contract.encoding, contract.on_unreadable_file) == ("cp1252", "fail")
    assert (parse_contract(base, "d.yaml").encoding, parse_contract(base, "d.yaml").on_unreadable_file) == (
        "utf-8", "quarantine")
    with pytest.raises(ContractError, match="unknown encoding"):
        parse_contract({**base, "encoding": "klingon"}, "d.yaml")
    with pytest.raises(ContractError, match="on_unreadable_file"):
        parse_contract({**base, "on_unreadable_file": "ignore"}, "d.yaml")
    with pytest.raises(ContractError, match=r"references must be 'dataset\.column'"):
        parse_contract({**base, "columns": [*base["columns"], {"name": "c", "type": "string",
                                                                 "references": "customers"}]}, "d.yaml")


def test_a_reference_to_another_datasets_key_takes_that_contracts_format():
    transactions = load_contract("transactions")
    assert referenced_pattern(transactions.column("customer_id")) == load_contract("customers").column(
        "customer_id").pattern
    assert "customer_id" in transactions.identifier_columns and "merchant_id" in transactions.identifier_columns
    assert "ip_address" not in transactions.identifier_columns
