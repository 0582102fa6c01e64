"""Bronze files as feeds deliver them (tests/bronze_corpus.py), all in one ingest folder beside a clean
file: the date's run succeeds, every file is in the report with its outcome, each row is counted once
(in silver with its values intact, or in quarantine with its reason, file and row), nothing is lost,
and a file that cannot be read is quarantined whole, left in bronze untouched and alerted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from jobs import bronze_to_silver
from jobs.tables import lake_table
from tests.bronze_corpus import SILVER, Case, customer, json_cases, jsonl, transactions_corpus, txn
from tests.bronze_corpus import csv_text as corpus_csv

pytestmark = pytest.mark.slow
DAY = "2024-01-03"
CLEAN = "clean.csv"


def build(lake: Path, dataset: str, cases: list[Case], clean: tuple[str, bytes]) -> Path:
    folder = lake / "bronze" / dataset / f"ingest_date={DAY}"
    for case in [*cases, Case(clean[0], clean[1], "read", "native")]:
        path = folder / case.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.data)
    return folder


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class Outcome:
    """One job run over a corpus: its report, silver and quarantine rows by file."""

    def __init__(self, spark, lake: Path, dataset: str, key: str, value_column: str, cases: list[Case],
                 clean: tuple[str, bytes]) -> None:
        self.folder = build(lake, dataset, cases, clean)
        self.value_column = value_column
        before = digests(self.folder)
        self.report = bronze_to_silver.run(spark, {"dataset": dataset, "run_date": DAY, "lake_root": str(lake),
                                                   "run_id": f"corpus-{dataset}"})
        self.bronze_untouched = digests(self.folder) == before
        self.cases = {c.name: c for c in cases}
        self.files = {str(Path(f["file"]).relative_to(self.folder)): f for f in self.report["files"]}
        silver = lake_table(spark, lake, "silver", dataset).select("_source_file", key, value_column)
        self.silver: dict[str, list[tuple[str, str]]] = {}
        for row in silver.collect():
            name = str(Path(row["_source_file"]).relative_to(self.folder))
            self.silver.setdefault(name, []).append((row[key], row[value_column]))
        quarantine = lake_table(spark, lake, "quarantine", dataset).where(f"ingest_date = '{DAY}'").collect()
        self.quarantine: dict[str, list] = {}
        for row in quarantine:
            self.quarantine.setdefault(str(Path(row["source_file"]).relative_to(self.folder)), []).append(row)


@pytest.fixture(scope="module")
def transactions_run(spark, tmp_path_factory) -> Outcome:
    clean = corpus_csv([txn(0, r) for r in range(5)], lineterminator="\n").encode()
    return Outcome(spark, tmp_path_factory.mktemp("corpus-csv"), "transactions", "transaction_id",
                   "merchant_category", transactions_corpus(), (CLEAN, clean))


@pytest.fixture(scope="module")
def customers_run(spark, tmp_path_factory) -> Outcome:
    clean = jsonl([customer(0, r) for r in range(5)]).encode()
    return Outcome(spark, tmp_path_factory.mktemp("corpus-json"), "customers", "customer_id", "city",
                   json_cases(), ("clean.jsonl", clean))


def check_case(outcome: Outcome, case: Case) -> None:
    entry = outcome.files[case.name]
    assert (entry["outcome"], entry["route"]) == (case.outcome, case.route), entry
    silver = dict(outcome.silver.get(case.name, []))
    quarantined = outcome.quarantine.get(case.name, [])
    by_key = {row["record_key"]: row for row in quarantined if row["record_key"]}
    # Each row of the file exactly once: in silver with its value intact, or quarantined with its reason.
    for key, expected in case.rows.items():
        if expected == SILVER:
            assert key in silver and key not in by_key, (case.name, key)
            if key in case.categories:
                assert silver[key] == case.categories[key], (case.name, key, silver[key])
        else:
            assert key not in silver, (case.name, key)
            assert by_key[key]["reasons"][0] == expected, (case.name, key, by_key[key]["reasons"])
            if key in case.categories:  # refused, with the value as read (the raw record is JSON of the fields)
                raw = json.loads(by_key[key]["raw_record"])
                assert raw[outcome.value_column] == case.categories[key], (case.name, key, raw)
    assert set(silver) == {k for k, v in case.rows.items() if v == SILVER}, case.name
    keyless = sorted(row["reasons"][0] for row in quarantined if not row["record_key"])
    if case.outcome == "quarantined":
        # One record for the whole file: its size and checksum, never its content; the file stays in bronze.
        assert len(quarantined) == 1 and quarantined[0]["reasons"] == [case.reason], quarantined
        raw = json.loads(quarantined[0]["raw_record"])
        assert raw["size"] == len(case.data) and raw["sha256"] == hashlib.sha256(case.data).hexdigest()
        assert entry["sha256"] == raw["sha256"] and entry["reason"].startswith(case.reason.split(":", 1)[1])
        return
    assert keyless == sorted(case.keyless), (case.name, keyless)
    assert len(quarantined) == len(by_key) + len(keyless), case.name
    # The report's per-file counts: every row read is promoted, quarantined or a duplicate, once.
    rows = len(case.rows) + len(case.keyless)
    assert entry["rows_read"] == rows, (case.name, entry)
    assert (entry["promoted"], entry["quarantined"], entry["duplicates"]) == (
        len(silver), len(quarantined), 0), (case.name, entry)
    # A refusal says where: the decoded route knows the row (line) each record starts on.
    # (Rows the quality gate routes come from the typed batch, which carries no row number.)
    if case.route == "decoded":
        assert all(row["source_row"] and row["source_row"] >= 1 for row in quarantined
                   if not row["reason"].startswith("expectation:")), case.name


@pytest.mark.parametrize("name", [c.name for c in transactions_corpus()])
def test_each_csv_file_of_the_corpus(transactions_run, name):
    check_case(transactions_run, transactions_run.cases[name])


@pytest.mark.parametrize("name", [c.name for c in json_cases()])
def test_each_json_file_of_the_corpus(customers_run, name):
    check_case(customers_run, customers_run.cases[name])


@pytest.mark.parametrize("run_name", ["transactions_run", "customers_run"])
def test_the_date_is_promoted_and_every_file_accounted_for(request, run_name):
    outcome: Outcome = request.getfixturevalue(run_name)
    report = outcome.report
    clean = next(name for name in outcome.files if name.startswith("clean"))
    assert len(outcome.silver[clean]) == 5  # the clean file beside the corpus is promoted whole
    # Every object under the folder is listed, once, with one outcome; nothing was changed in bronze.
    on_disk = {str(p.relative_to(outcome.folder)) for p in outcome.folder.rglob("*") if p.is_file()}
    assert set(outcome.files) == on_disk and len(report["files"]) == len(on_disk)
    assert report["files_summary"]["reconciled"] and report["files_summary"]["listed"] == len(on_disk)
    assert outcome.bronze_untouched
    # Rows: the read files' rows plus one record per unreadable file reconcile with what was written.
    read_rows = sum(f["rows_read"] for f in report["files"])
    unreadable = [f for f in report["files"] if f["outcome"] == "quarantined"]
    assert report["bronze_rows"] == read_rows + len(unreadable)
    assert report["bronze_rows"] == report["silver_rows"] + report["quarantined_rows"] + report["duplicate_rows"]
    assert sum(f["promoted"] for f in report["files"]) == report["silver_rows"]
    assert sorted(report["quarantined_files"]) == sorted(f["file"] for f in unreadable)
    # An alert names each unreadable file, with its size and checksum.
    (alert_path,) = report["alerts"]
    alert = json.loads(Path(alert_path).read_text())
    for entry in unreadable:
        assert entry["file"] in alert["message"] and entry["sha256"] in alert["message"]


def test_an_undecodable_byte_is_a_row_reason_with_its_byte_offset(transactions_run, customers_run):
    for outcome, name, field, line in ((transactions_run, "latin1_byte_in_utf8_feed.csv", "merchant_category", 3),
                                       (customers_run, "latin1_byte.jsonl", "city", 2)):
        (row,) = outcome.quarantine[name]
        data = outcome.cases[name].data
        assert row["reasons"] == [f"undecodable_bytes:{field}"]
        assert data[row["byte_offset"]] == 0xE9  # the offset points at the byte itself
        assert "\\xe9" in row["raw_record"] and "\ufffd" not in row["raw_record"]
        assert row["source_row"] == line  # the second record: line 3 of the CSV (after the header), 2 of the JSON
        # The report and the log name dataset, file, row, byte offset and field.
        assert any(name in text and text.startswith(f"dataset {outcome.report['dataset']}: file ")
                   and f"row {line}, byte {row['byte_offset']}" in text and f"undecodable_bytes:{field}" in text
                   for text in outcome.report["refusals_sample"]), outcome.report["refusals_sample"]
        (sample,) = outcome.files[name]["refused_sample"]
        assert sample["source_row"] == line and sample["reasons"] == [f"undecodable_bytes:{field}"]


def test_a_multiline_record_is_one_row_numbered_by_its_first_line(transactions_run):
    entry = transactions_run.files["spreadsheet_multiline_notes.csv"]
    assert entry["rows_read"] == 5 and entry["promoted"] + entry["quarantined"] == 5 and entry["duplicates"] == 0
    refused = transactions_run.quarantine["spreadsheet_multiline_notes.csv"]
    assert {row["record_key"] for row in refused} == {"T000500000000", "T000500000002", "T000500000004"}
