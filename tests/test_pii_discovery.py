"""PII discovery in columns the contract does not protect: a `notes` column full of e-mails."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

import pytest
from faker import Faker
from pyspark.sql import DataFrame, SparkSession

from jobs.contracts import DiscoveryPolicy, load_contract
from jobs.pii.discovery import (
    PiiDiscoveryError,
    PiiFinding,
    apply_discovery_policy,
    discover_and_apply,
    discover_pii,
    sample_column_values,
    undeclared_string_columns,
)
from jobs.pii.tokens import token_value

KEY = bytes(range(32, 64))
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
POLICY = DiscoveryPolicy(policy="mask_and_alert", sample_rows=500, min_score=0.6, min_fraction=0.05)


@pytest.fixture(scope="module")
def tickets(spark: SparkSession) -> DataFrame:
    """support_tickets-shaped rows plus an undeclared `notes` column: bare e-mails or e-mails in text."""
    fake = Faker("en_US")
    fake.seed_instance(3)
    rows = []
    for i in range(60):
        email = fake.email()
        notes = email if i % 2 else f"customer asked to be reached at {email} after 5pm"
        rows.append((f"K{i:010d}", f"C{i:08d}", datetime(2024, 3, 1, 9, i % 60), "email", "Card issue",
                     "Please help with my card.", notes, fake.city()))
    schema = ("ticket_id string, customer_id string, created_at timestamp, channel string, subject string, "
              "body string, notes string, region string")
    return spark.createDataFrame(rows, schema).repartition(3)


def _all_values(df: DataFrame) -> list[str]:
    return [str(v) for row in df.collect() for v in row if v is not None]


def test_undeclared_string_columns_skip_protected_lineage_and_partitions(spark: SparkSession) -> None:
    contract = load_contract("support_tickets")
    df = spark.createDataFrame([("K1", "C1", "s", "b", "n", "r1", "f", "2024")],
                               "ticket_id string, customer_id string, subject string, body string, notes string, "
                               "_run_id string, _source_file string, year string")
    assert undeclared_string_columns(df, contract) == ["ticket_id", "customer_id", "notes"]


def _jobs_run_by(spark: SparkSession, group: str, action) -> tuple[object, int]:  # type: ignore[no-untyped-def]
    context = spark.sparkContext
    context.setJobGroup(group, group)
    try:
        result = action()
    finally:
        context.setLocalProperty("spark.jobGroup.id", None)
    return result, len(context.statusTracker().getJobIdsForGroup(group))


def test_sampling_respects_the_limit_in_one_pass_for_all_columns(spark: SparkSession, tickets: DataFrame) -> None:
    samples, jobs_for_three = _jobs_run_by(
        spark, "pii-sample-3", lambda: sample_column_values(tickets, ["notes", "region", "channel"], 25))
    assert {c: len(v) for c, v in samples.items()} == {"notes": 25, "region": 25, "channel": 25}
    assert len(set(samples["notes"])) == 25  # distinct rows, not one row repeated
    _, jobs_for_one = _jobs_run_by(spark, "pii-sample-1", lambda: sample_column_values(tickets, ["notes"], 25))
    assert jobs_for_three == jobs_for_one  # one query for all columns, not one per column


def test_a_known_row_count_samples_rows_first_and_a_sparse_column_falls_back_to_all_rows(
        spark: SparkSession) -> None:
    """With the row count given, values come from a Bernoulli pre-sample of rows; a column too sparse to
    fill its sample there is sampled again over every row, so it still gets its values (and its PII)."""
    rows = [(f"dense-{i}", f"person{i}@example.com" if i % 500 == 0 else None) for i in range(20_000)]
    frame = spark.createDataFrame(rows, "dense string, sparse string")

    samples = sample_column_values(frame, ["dense", "sparse"], 50, row_count=20_000)

    assert len(samples["dense"]) == 50 and len(set(samples["dense"])) == 50
    assert sorted(samples["sparse"]) == sorted(f"person{i}@example.com" for i in range(0, 20_000, 500))
    policy = DiscoveryPolicy(policy="mask_and_alert", sample_rows=50, min_fraction=0.5, min_score=0.5)
    assert [f.column for f in discover_pii(frame, ["dense", "sparse"], policy, row_count=20_000)] == ["sparse"]


def test_notes_full_of_emails_is_found_and_clean_columns_are_not(tickets: DataFrame) -> None:
    columns = undeclared_string_columns(tickets, load_contract("support_tickets"))
    findings = discover_pii(tickets, columns, POLICY)
    assert findings == [PiiFinding("notes", ("EMAIL_ADDRESS",), 1.0, 60)]


def test_fail_policy_names_column_and_types_without_leaking_values(tickets: DataFrame) -> None:
    findings = discover_pii(tickets, ["notes"], POLICY)
    with pytest.raises(PiiDiscoveryError) as error:
        apply_discovery_policy(tickets, findings, replace(POLICY, policy="fail"), KEY, dataset="support_tickets")
    message = str(error.value)
    assert "notes" in message and "EMAIL_ADDRESS" in message and "support_tickets" in message
    assert not EMAIL.search(message)
    assert error.value.findings == findings


def test_quarantine_column_drops_it_from_the_promoted_data(tickets: DataFrame) -> None:
    findings = discover_pii(tickets, ["notes", "region"], POLICY)
    out, actions = apply_discovery_policy(tickets, findings, replace(POLICY, policy="quarantine_column"), KEY)
    assert "notes" not in out.columns and "region" in out.columns
    assert [(a.column, a.action) for a in actions] == [("notes", "quarantine_column")]
    assert not any(EMAIL.search(v) for v in _all_values(out))


def test_mask_and_alert_redacts_text_and_tokenizes_whole_value_emails(tickets: DataFrame) -> None:
    contract = replace(load_contract("support_tickets"), discovery=POLICY)
    # pattern-only masking keeps this test free of spaCy; NER masking is the default in jobs
    out, actions = discover_and_apply(tickets, contract, KEY, mask_with_ner=False)
    assert not any(EMAIL.search(v) for v in _all_values(out))
    notes = {r.ticket_id: r.notes for r in out.select("ticket_id", "notes").collect()}
    raw = {r.ticket_id: r.notes for r in tickets.select("ticket_id", "notes").collect()}
    for ticket_id, original in raw.items():
        if "@" in original and " " not in original:  # a bare e-mail: the customers.email token
            assert notes[ticket_id] == token_value(original, KEY, "email")
        else:
            assert notes[ticket_id] == "customer asked to be reached at <EMAIL_ADDRESS> after 5pm"
    assert out.columns == tickets.columns
    alert = actions[0].alert("support_tickets")
    assert alert == {"kind": "pii_discovered", "severity": "warning", "dataset": "support_tickets",
                     "column": "notes", "action": "mask_and_alert", "entity_types": ("EMAIL_ADDRESS",),
                     "fraction": 1.0, "sample_size": 60}


def test_below_min_fraction_is_not_a_finding(spark: SparkSession) -> None:
    rows = [(f"note {i}",) for i in range(99)] + [("write to a@example.com",)]
    df = spark.createDataFrame(rows, "notes string")
    assert discover_pii(df, ["notes"], POLICY) == []  # 1% < 5%
    assert discover_pii(df, ["notes"], replace(POLICY, min_fraction=0.01)) == [
        PiiFinding("notes", ("EMAIL_ADDRESS",), 0.01, 100)]
