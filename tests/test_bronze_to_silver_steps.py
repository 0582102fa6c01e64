"""bronze_to_silver's steps one at a time, on a few hand-written records (the whole job runs in
test_bronze_to_silver.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from bench.ungated import skipped_gate
from jobs.batch_cache import PinnedFrames
from jobs.bronze_files import BronzeFile
from jobs.bronze_to_silver import (
    LINEAGE_COLUMNS,
    PreparedBatch,
    Promotion,
    SchemaDriftError,
    Tally,
    conform_bronze,
    prepare_batch,
    read_ingest_folder,
    refusal_samples,
    start_promotion,
    tally_rows,
)
from jobs.job_context import JobContext
from jobs.phase_clock import PhaseClock
from jobs.quality.gate import GateResult
from jobs.silver.conform import REASONS
from jobs.silver.dedupe import PARTITION_COLUMNS
from jobs.silver.split import BatchSplit
from tests.test_bronze_to_silver import customer, write_jsonl

DAY = "2024-01-01"


def job_args(lake: Path, dataset: str = "customers") -> dict:
    return {"dataset": dataset, "run_date": DAY, "lake_root": str(lake), "run_id": "run-1"}


def promotion(spark, lake: Path, dataset: str = "customers") -> Promotion:
    args = job_args(lake, dataset)
    return start_promotion(spark, JobContext.from_args(args), args)


def test_a_run_starts_from_the_current_silver_snapshot_none_on_an_empty_lake(spark, tmp_path):
    run = promotion(spark, tmp_path, "transactions")
    assert (run.contract.name, run.silver.table.display, run.silver.snapshot) == (
        "transactions", "silver.transactions", None)
    assert run.customers is None  # no silver customers yet: the gate's referential check has nothing to use
    assert run.processed_at.tzinfo is None  # stored as a timestamp without zone, like every lineage column


def test_reading_bronze_gives_every_object_of_the_folder_an_outcome(spark, tmp_path):
    write_jsonl(tmp_path, "customers", DAY, [customer("C00000001", "2024-01-01T08:00:00Z"),
                                             customer("C00000002", "2024-01-01T09:00:00Z")])
    (tmp_path / "bronze" / "customers" / f"ingest_date={DAY}" / "late.jsonl").write_text("")
    bronze = read_ingest_folder(spark, promotion(spark, tmp_path))
    assert sorted((entry.name, entry.outcome) for entry in bronze.entries) == [
        ("customers.jsonl", "read"), ("late.jsonl", "empty")]
    assert bronze.records.count() == 2


@pytest.fixture
def drifted_records(spark, tmp_path):
    """One customer that carries a field the contract does not declare (`loyalty`)."""
    write_jsonl(tmp_path, "customers", DAY, [customer("C00000001", "2024-01-01T08:00:00Z", loyalty="gold")])
    run = promotion(spark, tmp_path)
    return run.contract, read_ingest_folder(spark, run).records


def test_conforming_keeps_a_new_column_only_when_the_contract_says_keep(drifted_records):
    contract, records = drifted_records
    kept = conform_bronze(records, replace(contract, new_columns="keep"))
    assert kept.kept == ["loyalty"]
    assert kept.rows.select("loyalty", F.size(REASONS).alias("reasons")).first().asDict() == {
        "loyalty": "gold", "reasons": 0}

    quarantined = conform_bronze(records, contract)  # the shipped policy: quarantine the row
    assert quarantined.kept == [] and "loyalty" not in quarantined.rows.columns
    assert quarantined.rows.first()[REASONS] == ["unexpected_column:loyalty"]


def test_conforming_refuses_a_new_column_under_the_fail_policy_naming_column_and_file(drifted_records):
    contract, records = drifted_records
    with pytest.raises(SchemaDriftError, match=r"loyalty in .*ingest_date=2024-01-01/customers.jsonl"):
        conform_bronze(records, replace(contract, new_columns="fail"))


def test_a_prepared_batch_is_in_silvers_shape_and_its_three_phases_are_timed(spark, tmp_path):
    write_jsonl(tmp_path, "customers", DAY, [customer("C00000001", "2024-01-01T08:00:00Z"),
                                             customer("C00000001", "2024-01-01T09:00:00Z"),  # newer version
                                             '{"customer_id": "C0000000'])
    clock = PhaseClock()
    batch = prepare_batch(spark, JobContext.from_args(job_args(tmp_path)), job_args(tmp_path), clock)
    try:
        assert batch.candidates.columns[-len(LINEAGE_COLUMNS) - len(PARTITION_COLUMNS):] == [
            *LINEAGE_COLUMNS, *PARTITION_COLUMNS]
        assert [r["updated_at"].hour for r in batch.candidates.collect()] == [9]  # the older version lost
        assert (batch.split.valid_rows, batch.split.in_batch_duplicates) == (2, 1)
        assert batch.split.quarantined_by_reason == {"malformed_record": 1}
        assert len(batch.refusals) == 1 and "malformed_record" in batch.refusals[0]
        assert list(clock.seconds()) == ["inspect", "split", "pii_discovery", "total"]
    finally:
        batch.release()


def split_of(spark, *, valid: int, in_batch: int, superseded: int, by_reason: dict) -> BatchSplit:
    empty = spark.createDataFrame([], "customer_id string")
    return BatchSplit(rejected=empty, winners=empty, valid_rows=valid, in_batch_duplicates=in_batch,
                      superseded=superseded, quarantined_by_reason=by_reason, partitions=[], replaced_keys=empty,
                      pinned=PinnedFrames(True), read_by_file={"b/f.jsonl": valid + sum(by_reason.values())},
                      rejected_by_file={"b/f.jsonl": sum(by_reason.values())},
                      duplicates_by_file={"b/f.jsonl": in_batch + superseded})


def test_the_tally_counts_every_bronze_row_once_with_the_gates_routing(spark):
    split = split_of(spark, valid=5, in_batch=1, superseded=1, by_reason={"wrong_type:amount": 2})
    routed = spark.createDataFrame([("b/f.jsonl",)], "_source_file string")
    gate = GateResult(valid=routed, quarantined=routed, failed=[], warnings=[], routed=[],
                      summary={"quarantined_rows": 1, "quarantined_by_reason": {"amount_range": 1}})
    entry = BronzeFile("b/f.jsonl", size=100)
    batch = PreparedBatch(run=None, entries=[entry], kept=[], split=split, refusals=[],  # type: ignore[arg-type]
                          candidates=routed, pii_report={})

    tally = tally_rows(batch, gate)

    assert tally == Tally(bronze_rows=7, silver_rows=2, quarantined_rows=3, duplicate_rows=2,
                          quarantined_by_reason={"amount_range": 1, "wrong_type:amount": 2}, gate_quarantined=1)
    assert tally.bronze_rows == tally.silver_rows + tally.quarantined_rows + tally.duplicate_rows
    assert (entry.rows_read, entry.quarantined, entry.duplicates, entry.promoted) == (7, 3, 2, 2)


def test_refusal_samples_are_not_queried_when_nothing_was_refused(spark):
    split = split_of(spark, valid=3, in_batch=0, superseded=0, by_reason={})
    split.rejected = None  # type: ignore[assignment]  # any query of it would fail
    assert refusal_samples([], split, None) == []  # type: ignore[arg-type]


def test_the_benchmarks_skipped_gate_publishes_every_candidate_and_says_so(spark):
    candidates = spark.createDataFrame([("C00000001",), ("C00000002",)], "customer_id string")
    gate = skipped_gate(candidates)
    assert gate.valid is candidates and gate.quarantined.count() == 0
    assert gate.summary["status"] == "skipped" and not gate.failed  # the audit lets it through
