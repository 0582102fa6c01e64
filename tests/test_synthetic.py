"""The synthetic bronze generator: layout, contracts, keys, PII labels, dirty flaws, fraud signal.

Every check parses the written files independently of the generator's own bookkeeping, so a
report that disagrees with the files fails.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jobs.ml.feature_spec import MERCHANT_CATEGORIES
from pipelines.synthetic import generate, main
from pipelines.synthetic.identifiers import luhn_valid
from pipelines.synthetic.schema import (
    COUNTRIES,
    CURRENCIES,
    CUSTOMER_COLUMNS,
    SEGMENTS,
    SUPPORT_TICKET_COLUMNS,
    TICKET_CHANNELS,
    TRANSACTION_CHANNELS,
    TRANSACTION_COLUMNS,
)

START = date(2024, 3, 1)
CLEAN_DAYS, CLEAN_ROWS = 3, 1500
DIRTY_DAYS, DIRTY_ROWS = 2, 1000
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
FLAWS = ("exact_duplicate", "stale_resend", "late_arrival", "null_required", "malformed", "wrong_type",
         "extra_column")


# ---------------------------------------------------------------------------------------------
# Fixtures and readers
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clean_lake(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("clean_lake")
    return root, generate(root, START, CLEAN_DAYS, CLEAN_ROWS, seed=11)


@pytest.fixture(scope="module")
def dirty_lake(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("dirty_lake")
    return root, generate(root, START, DIRTY_DAYS, DIRTY_ROWS, seed=11, dirty=True)


def days(count: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(count)]


def bronze_file(root: Path, dataset: str, day: date, suffix: str = "") -> Path:
    extension = "csv" if dataset == "transactions" else "jsonl"
    return root / "bronze" / dataset / f"ingest_date={day}" / f"{dataset}-{day}{suffix}.{extension}"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def clean_frames(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    customers, transactions, tickets = [], [], []
    for day in days(CLEAN_DAYS):
        customers += [dict(r, ingest_date=day) for r in read_jsonl(bronze_file(root, "customers", day))]
        transactions += [dict(r, ingest_date=day) for r in read_csv(bronze_file(root, "transactions", day))[1]]
        tickets += [dict(r, ingest_date=day) for r in read_jsonl(bronze_file(root, "support_tickets", day))]
    return pd.DataFrame(customers), pd.DataFrame(transactions), pd.DataFrame(tickets)


# ---------------------------------------------------------------------------------------------
# Determinism
# ---------------------------------------------------------------------------------------------
def _all_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "generation_report.json"}  # the report holds timings and the path


def test_same_seed_writes_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path / "a", START, 2, 300, seed=5, dirty=True)
    second = generate(tmp_path / "b", START, 2, 300, seed=5, dirty=True)
    generate(tmp_path / "c", START, 2, 300, seed=6, dirty=True)
    files_a, files_b, files_c = (_all_files(tmp_path / name) for name in "abc")
    assert files_a.keys() == files_b.keys()
    assert [name for name in files_a if files_a[name] != files_b[name]] == []
    assert [e.to_dict() for e in first.entries] == [e.to_dict() for e in second.entries]
    assert files_a.keys() == files_c.keys()
    differing = [name for name in files_a if files_a[name] != files_c[name]]
    assert any(name.startswith("bronze/transactions") for name in differing)


# ---------------------------------------------------------------------------------------------
# Layout and contracts
# ---------------------------------------------------------------------------------------------
def test_layout_is_one_file_per_dataset_per_ingest_date_and_labels_stay_outside_bronze(clean_lake) -> None:
    root, report = clean_lake
    bronze = sorted(p.relative_to(root).as_posix() for p in (root / "bronze").rglob("*") if p.is_file())
    expected = sorted(bronze_file(root, dataset, day).relative_to(root).as_posix()
                      for day in days(CLEAN_DAYS) for dataset in ("customers", "transactions", "support_tickets"))
    assert bronze == expected
    labels = sorted(p.relative_to(root).as_posix() for p in (root / "_labels").rglob("*") if p.is_file())
    assert labels == sorted(
        [f"_labels/support_tickets/ingest_date={d}/labels.jsonl" for d in days(CLEAN_DAYS)]
        + [f"_labels/pii_values/ingest_date={d}/pii_values.jsonl" for d in days(CLEAN_DAYS)]
        + ["_labels/generation_report.json"])
    assert {p.name for p in root.iterdir()} == {"bronze", "_labels"}
    assert [(e.dataset, e.ingest_date) for e in report.entries] == [
        (dataset, day) for day in days(CLEAN_DAYS) for dataset in ("customers", "transactions", "support_tickets")]


def test_headers_and_field_names_match_the_contracts_exactly(clean_lake) -> None:
    root, report = clean_lake
    for day in days(CLEAN_DAYS):
        header, rows = read_csv(bronze_file(root, "transactions", day))
        assert tuple(header) == TRANSACTION_COLUMNS
        assert len(rows) == CLEAN_ROWS == report.rows("transactions", day)
        for dataset, columns in (("customers", CUSTOMER_COLUMNS), ("support_tickets", SUPPORT_TICKET_COLUMNS)):
            records = read_jsonl(bronze_file(root, dataset, day))
            assert {tuple(r) for r in records} == {columns}, dataset  # every line: exactly these keys, in order
            assert len(records) == report.rows(dataset, day)
        tickets = read_jsonl(bronze_file(root, "support_tickets", day))
        assert len(tickets) == round(0.05 * CLEAN_ROWS)


def test_values_follow_the_data_model(clean_lake) -> None:
    root, _ = clean_lake
    customers, transactions, tickets = clean_frames(root)
    assert customers["customer_id"].str.fullmatch(r"C\d{8}").all()
    assert transactions["transaction_id"].str.fullmatch(r"T[0-9A-F]{12}").all()
    assert tickets["ticket_id"].str.fullmatch(r"K\d{10}").all()
    assert transactions["merchant_id"].str.fullmatch(r"M\d{6}").all()
    assert set(customers["segment"]) == set(SEGMENTS)
    assert set(customers["country"]) == set(COUNTRIES)
    assert set(transactions["currency"]) == set(CURRENCIES)
    assert set(transactions["channel"]) == set(TRANSACTION_CHANNELS)
    assert set(transactions["merchant_category"]) == set(MERCHANT_CATEGORIES)
    assert set(tickets["channel"]) == set(TICKET_CHANNELS)
    assert set(transactions["is_fraud"]) == {"true", "false"}
    assert transactions["amount"].str.fullmatch(r"\d+\.\d{2}").all()
    amounts = transactions["amount"].astype(float)
    assert (amounts > 0).all() and (amounts <= 25_000).all()
    assert customers["email"].str.fullmatch(r"[a-z0-9._]+@[a-z0-9.-]+\.[a-z]+").all()
    for column in ("created_at", "updated_at"):
        assert customers[column].str.fullmatch(ISO_TIME).all()
    for frame, column in ((transactions, "event_time"), (tickets, "created_at"), (customers, "updated_at")):
        event_dates = frame[column].map(lambda t: parse_time(t).date())
        assert (event_dates == frame["ingest_date"]).all(), column  # clean data: no late records
    births = customers["date_of_birth"].map(date.fromisoformat)
    assert births.between(date(1930, 1, 1), date(2006, 12, 31)).all()
    assert (customers["created_at"].map(parse_time) <= customers["updated_at"].map(parse_time)).all()
    rows = customers.to_dict("records")
    for column in CUSTOMER_COLUMNS:  # strings arrive trimmed and non-empty in clean data
        assert all(r[column] and r[column] == r[column].strip() for r in rows), column


def test_transactions_and_tickets_reference_customers_already_sent(clean_lake) -> None:
    root, _ = clean_lake
    customers, transactions, tickets = clean_frames(root)
    first_sent = customers.groupby("customer_id")["ingest_date"].min()
    created = customers.groupby("customer_id")["created_at"].first().map(parse_time)
    for frame, time_column in ((transactions, "event_time"), (tickets, "created_at")):
        assert frame["customer_id"].isin(first_sent.index).all()
        assert (first_sent.loc[frame["customer_id"]].to_numpy() <= frame["ingest_date"].to_numpy()).all()
        assert (created.loc[frame["customer_id"]].to_numpy() <= frame[time_column].map(parse_time).to_numpy()).all()
    assert transactions["transaction_id"].is_unique
    assert tickets["ticket_id"].is_unique
    assert customers.groupby("ingest_date")["customer_id"].apply(lambda ids: ids.is_unique).all()


def test_later_days_send_signups_and_changed_profiles_with_newer_updated_at(clean_lake) -> None:
    root, _ = clean_lake
    customers, _, _ = clean_frames(root)
    first_sent = customers.groupby("customer_id")["ingest_date"].transform("min")
    signups = customers[(customers["ingest_date"] == first_sent) & (customers["ingest_date"] > START)]
    assert len(signups) > 0
    assert (signups["created_at"].map(lambda t: parse_time(t).date()) == signups["ingest_date"]).all()
    changeable = ["segment", "phone", "email", "street", "city", "state", "postal_code"]
    identity = ["first_name", "last_name", "ssn", "date_of_birth", "created_at", "country"]
    resends = 0
    for _, versions in customers.sort_values("ingest_date").groupby("customer_id"):
        records = versions.to_dict("records")
        for before, after in pairwise(records):
            resends += 1
            assert parse_time(after["updated_at"]) > parse_time(before["updated_at"])
            assert any(after[c] != before[c] for c in changeable)
            assert [after[c] for c in identity] == [before[c] for c in identity]
    assert resends > 0


# ---------------------------------------------------------------------------------------------
# Structured PII values
# ---------------------------------------------------------------------------------------------
def test_cards_are_luhn_valid_and_ssns_phones_ips_look_real(clean_lake) -> None:
    root, _ = clean_lake
    customers, transactions, _ = clean_frames(root)
    cards = transactions["card_number"]
    assert cards.map(luhn_valid).all()
    assert cards.str.fullmatch(r"4\d{15}|4\d{18}|5[1-5]\d{14}|2\d{15}|3[47]\d{13}|(5018|5020|5038|5893|6304|6759"
                               r"|6761|6762|6763)\d{15}").all()
    two_series = cards[cards.str.startswith("2")].str[:4].astype(int)
    assert len(two_series) and two_series.between(2221, 2720).all()
    assert {15, 16, 19} <= set(cards.str.len())
    ssn = customers["ssn"].str.extract(r"^(\d{3})-(\d{2})-(\d{4})$").astype(float)
    assert ssn.notna().all().all()
    area = ssn[0]
    assert ((area > 0) & (area != 666) & (area < 900)).all() and (ssn[1] > 0).all() and (ssn[2] > 0).all()
    assert customers["phone"].str.fullmatch(r"\([2-9]\d{2}\) [2-9]\d{2}-\d{4}").all()
    octets = transactions["ip_address"].str.split(".", expand=True).astype(int)
    assert octets.shape[1] == 4 and octets.ge(0).all().all() and octets.le(255).all().all()
    assert (octets[0] > 0).all()


def test_pii_values_list_every_structured_value_sent_that_day(clean_lake) -> None:
    root, _ = clean_lake
    wanted = {"customers": ["first_name", "last_name", "email", "phone", "ssn", "date_of_birth", "street"],
              "transactions": ["card_number", "ip_address"]}
    for day in days(CLEAN_DAYS):
        listed = {(r["dataset"], r["column"]): set(r["values"])
                  for r in read_jsonl(root / "_labels" / "pii_values" / f"ingest_date={day}" / "pii_values.jsonl")}
        customers = read_jsonl(bronze_file(root, "customers", day))
        transactions = read_csv(bronze_file(root, "transactions", day))[1]
        for dataset, rows in (("customers", customers), ("transactions", transactions)):
            for column in wanted[dataset]:
                assert listed[(dataset, column)] == {r[column] for r in rows}, (dataset, column)


# ---------------------------------------------------------------------------------------------
# Support ticket text and its PII labels
# ---------------------------------------------------------------------------------------------
PHONE_STYLES = {"parens": r"\(\d{3}\) \d{3}-\d{4}", "dashes": r"\d{3}-\d{3}-\d{4}",
                "international": r"\+1 \d{3} \d{3} \d{4}", "dots": r"\d{3}\.\d{3}\.\d{4}"}


def test_ticket_labels_locate_every_inserted_pii_value(clean_lake) -> None:
    root, _ = clean_lake
    customers, _, _ = clean_frames(root)
    names = {f"{r['first_name']} {r['last_name']}" for r in customers.to_dict("records")}
    entity_types, phone_styles, card_styles, person_positions = Counter(), set(), set(), set()
    card_lengths, own_names = set(), 0
    for day in days(CLEAN_DAYS):
        tickets = {t["ticket_id"]: t for t in read_jsonl(bronze_file(root, "support_tickets", day))}
        labels = read_jsonl(root / "_labels" / "support_tickets" / f"ingest_date={day}" / "labels.jsonl")
        assert [label["ticket_id"] for label in labels] == list(tickets)
        for label in labels:
            ticket = tickets[label["ticket_id"]]
            for entity in label["entities"]:
                text = ticket[entity["field"]]
                assert text[entity["start"]:entity["end"]] == entity["value"]
                entity_types[entity["type"]] += 1
                value = entity["value"]
                if entity["type"] == "PHONE_NUMBER":
                    phone_styles |= {s for s, pattern in PHONE_STYLES.items() if re.fullmatch(pattern, value)}
                if entity["type"] == "CREDIT_CARD":
                    digits = re.sub(r"[ -]", "", value)
                    assert digits.isdigit() and luhn_valid(digits)
                    card_lengths.add(len(digits))
                    card_styles.add("spaces" if " " in value else "dashes" if "-" in value else "plain")
                if entity["type"] == "US_SSN":
                    assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", value)
                if entity["type"] == "EMAIL_ADDRESS":
                    assert re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", value)
                if entity["type"] == "PERSON" and entity["field"] == "body":
                    own_names += value in names
                    at_end = entity["end"] >= len(text) - 20
                    person_positions.add("start" if entity["start"] == 0 else "end" if at_end else "middle")
    assert set(entity_types) == {"PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD"}
    assert phone_styles == set(PHONE_STYLES)
    assert card_styles == {"plain", "spaces", "dashes"}
    assert {15, 16, 19} <= card_lengths
    assert person_positions == {"start", "middle", "end"}
    assert own_names > 0


def test_ticket_bodies_without_labels_hold_no_obvious_pii(clean_lake) -> None:
    """The complement of the labels: text outside labelled spans has no e-mail, SSN or long digit run."""
    root, _ = clean_lake
    day = START
    tickets = {t["ticket_id"]: t for t in read_jsonl(bronze_file(root, "support_tickets", day))}
    for label in read_jsonl(root / "_labels" / "support_tickets" / f"ingest_date={day}" / "labels.jsonl"):
        for field in ("subject", "body"):
            text = tickets[label["ticket_id"]][field]
            for entity in sorted((e for e in label["entities"] if e["field"] == field), key=lambda e: -e["start"]):
                text = text[:entity["start"]] + "<X>" + text[entity["end"]:]
            assert not re.search(r"@|\d{3}-\d{2}-\d{4}|\d{4}", text), text


# ---------------------------------------------------------------------------------------------
# Dirty feeds
# ---------------------------------------------------------------------------------------------
REQUIRED = {"customers": ("customer_id", "updated_at"),
            "transactions": ("transaction_id", "customer_id", "amount", "event_time"),
            "support_tickets": ("ticket_id", "customer_id", "created_at")}
KEY = {"customers": "customer_id", "transactions": "transaction_id", "support_tickets": "ticket_id"}
EVENT = {"customers": "updated_at", "transactions": "event_time", "support_tickets": "created_at"}
COLUMNS = {"customers": CUSTOMER_COLUMNS, "transactions": TRANSACTION_COLUMNS,
           "support_tickets": SUPPORT_TICKET_COLUMNS}


def _is_time(value: object) -> bool:
    return isinstance(value, str) and bool(ISO_TIME.match(value)) and _parses(value)


def _parses(value: str) -> bool:
    try:
        parse_time(value)
    except ValueError:
        return False
    return True


def _is_date(value: object) -> bool:
    try:
        date.fromisoformat(str(value))
    except ValueError:
        return False
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value)))


def classify_lines(dataset: str, path: Path, ingest_date: date) -> dict[int, str]:
    """An independent reading of a dirty file: line number -> flaw (clean lines are left out)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    first = 1
    if dataset == "transactions":
        assert lines[0] == ",".join(TRANSACTION_COLUMNS)
        first = 2
    flaws: dict[int, str] = {}
    parsed: list[tuple[int, str, dict]] = []
    for number, line in enumerate(lines[first - 1:], start=first):
        if dataset == "transactions":
            fields = next(csv.reader([line]))
            if len(fields) != len(TRANSACTION_COLUMNS):
                flaws[number] = "malformed"
                continue
            record: dict = dict(zip(TRANSACTION_COLUMNS, fields, strict=True))
        else:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                flaws[number] = "malformed"
                continue
        if any(record.get(c) in (None, "") for c in REQUIRED[dataset]):
            flaws[number] = "null_required"
            continue
        wrong = not _is_time(record[EVENT[dataset]])
        if dataset == "transactions":
            wrong |= not re.fullmatch(r"\d+\.\d{2}", record["amount"]) or record["is_fraud"] not in ("true", "false")
        if dataset == "customers":
            wrong |= not _is_date(record["date_of_birth"])
        if wrong:
            flaws[number] = "wrong_type"
            continue
        if set(record) - set(COLUMNS[dataset]):
            flaws[number] = "extra_column"
            continue
        parsed.append((number, line, record))

    seen_lines: set[str] = set()
    versions: dict[str, list[tuple[int, str]]] = {}
    for number, line, record in parsed:
        if line in seen_lines:
            flaws[number] = "exact_duplicate"
            continue
        seen_lines.add(line)
        versions.setdefault(record[KEY[dataset]], []).append((number, record[EVENT[dataset]]))
        event_date = parse_time(record[EVENT[dataset]]).date()
        if event_date < ingest_date:
            assert 1 <= (ingest_date - event_date).days <= 3
            flaws[number] = "late_arrival"
    for same_key in versions.values():  # every version but the newest is a stale re-send
        for number, _ in sorted(same_key, key=lambda v: v[1])[:-1]:
            flaws[number] = "stale_resend"
    return flaws


def _labelled_lines(labels: list[dict], file: str) -> dict[int, str]:
    """Line -> flaw per the labels; of two identical lines, the later one counts as the copy (as above)."""
    return {max(label["line"], label["original_line"]) if label["flaw"] == "exact_duplicate" else label["line"]:
            label["flaw"] for label in labels if label["file"] == file}


def test_every_dirty_flaw_is_in_the_files_in_exactly_the_reported_count(dirty_lake) -> None:
    root, report = dirty_lake
    for day in days(DIRTY_DAYS):
        labels_doc = json.loads((root / "_labels" / "dirty" / f"ingest_date={day}.json").read_text())
        for dataset in ("customers", "transactions", "support_tickets"):
            path = bronze_file(root, dataset, day)
            relative = path.relative_to(root).as_posix()
            found = classify_lines(dataset, path, day)
            counted = Counter(found.values())
            if dataset == "transactions":
                header, partner_rows = read_csv(bronze_file(root, dataset, day, "-partner"))
                assert header == [*TRANSACTION_COLUMNS, "promo_code"]
                assert all(r["promo_code"] for r in partner_rows)
                counted["extra_column"] += len(partner_rows)
            expected_flaws = [f for f in FLAWS if not (dataset == "support_tickets" and f == "extra_column")]
            reported = report.entry(dataset, day).flaws
            assert set(reported) == set(expected_flaws)
            assert {f: counted[f] for f in expected_flaws} == reported, (dataset, day)
            assert all(count >= 1 for count in reported.values())
            labels = labels_doc["datasets"][dataset]["flaws"]
            assert Counter(label["flaw"] for label in labels) == Counter(reported)
            # The labels name exactly the lines the independent reading flags, flaw for flaw.
            assert _labelled_lines(labels, relative) == found, (dataset, day)
            text_lines = path.read_text(encoding="utf-8").split("\n")
            for label in labels:
                if label["flaw"] == "exact_duplicate":
                    assert text_lines[label["line"] - 1] == text_lines[label["original_line"] - 1]
                assert label["expected_outcome"] in {"duplicate", "promote", "quarantine", "schema_drift"}


def test_dirty_rows_written_match_the_files(dirty_lake) -> None:
    root, report = dirty_lake
    for day in days(DIRTY_DAYS):
        for dataset in ("customers", "transactions", "support_tickets"):
            entry = report.entry(dataset, day)
            lines = sum(len((root / f).read_text(encoding="utf-8").splitlines()) - (f.endswith(".csv"))
                        for f in entry.files)
            assert entry.rows_written == lines
        assert report.rows("transactions", day) == DIRTY_ROWS + report.flaw_count(
            "transactions", "exact_duplicate", day) + report.flaw_count("transactions", "stale_resend", day) + (
            report.flaw_count("transactions", "extra_column", day))


def test_a_dirty_run_is_the_clean_run_with_the_flaws_on_top(dirty_lake, tmp_path: Path) -> None:
    root, report = dirty_lake
    generate(tmp_path, START, DIRTY_DAYS, DIRTY_ROWS, seed=11)
    for day in days(DIRTY_DAYS):
        for dataset in ("customers", "transactions", "support_tickets"):
            clean = bronze_file(tmp_path, dataset, day).read_text(encoding="utf-8").splitlines()
            dirty = bronze_file(root, dataset, day).read_text(encoding="utf-8").splitlines()
            flaws = report.entry(dataset, day).flaws
            rewritten = sum(flaws[f] for f in ("late_arrival", "null_required", "malformed", "wrong_type"))
            rewritten += flaws["extra_column"] if dataset == "customers" else 0  # the partner rows are a new file
            clean_set, dirty_set = set(clean), set(dirty)
            assert len([line for line in clean if line not in dirty_set]) == rewritten, (dataset, day)
            assert len([line for line in dirty if line not in clean_set]) == rewritten + flaws["stale_resend"]


@pytest.mark.slow  # starts the shared SparkSession; its first jobs take a while on a busy machine
def test_spark_sees_exactly_the_malformed_lines_as_corrupt_records(dirty_lake, spark) -> None:
    """The flaws are built for the real reader: Spark's PERMISSIVE mode flags every malformed line, no other."""
    from pyspark.sql import types as T

    root, report = dirty_lake
    day = START
    for dataset, columns in (("transactions", TRANSACTION_COLUMNS), ("customers", CUSTOMER_COLUMNS),
                             ("support_tickets", SUPPORT_TICKET_COLUMNS)):
        schema = T.StructType([T.StructField(c, T.StringType()) for c in (*columns, "_corrupt_record")])
        reader = spark.read.schema(schema).option("mode", "PERMISSIVE")
        path = str(bronze_file(root, dataset, day))
        frame = reader.option("header", True).csv(path) if dataset == "transactions" else reader.json(path)
        corrupt = [row for row in frame.collect() if row["_corrupt_record"] is not None]  # one Spark job
        assert len(corrupt) == report.flaw_count(dataset, "malformed", day), dataset


def test_flaw_values_are_the_documented_ones(dirty_lake) -> None:
    root, _ = dirty_lake
    labels = [label for day in days(DIRTY_DAYS)
              for doc in [json.loads((root / "_labels" / "dirty" / f"ingest_date={day}.json").read_text())]
              for dataset in doc["datasets"].values() for label in dataset["flaws"]]
    wrong = {(label["dataset"], label["column"], label["value"]) for label in labels if label["flaw"] == "wrong_type"}
    assert wrong <= {("transactions", "amount", "12,50 EUR"), ("transactions", "amount", "abc"),
                     ("transactions", "event_time", "yesterday"), ("transactions", "is_fraud", "maybe"),
                     ("customers", "date_of_birth", "31/02/1990"), ("customers", "date_of_birth", "30/02/1985"),
                     ("customers", "updated_at", "yesterday"), ("support_tickets", "created_at", "yesterday"),
                     ("support_tickets", "created_at", "31/02/2024 25:61")}
    assert {label["column"] for label in labels if label["flaw"] == "extra_column"} == {"loyalty_tier", "promo_code"}
    assert all(label["key"] for label in labels)  # flawed rows stay identifiable by key as well as by line


# ---------------------------------------------------------------------------------------------
# Fraud signal
# ---------------------------------------------------------------------------------------------
def fraud_features(transactions: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """Features a fraud analyst would derive from bronze alone."""
    tx = transactions.copy()
    tx["time"] = pd.to_datetime(tx["event_time"], utc=True)
    tx["amount"] = tx["amount"].astype(float)
    created = pd.to_datetime(customers.groupby("customer_id")["created_at"].first(), utc=True)
    tx = tx.sort_values(["customer_id", "time"])
    gap_before = tx.groupby("customer_id")["time"].diff().dt.total_seconds()
    gap_after = -tx.groupby("customer_id")["time"].diff(-1).dt.total_seconds()
    median_spend = tx.groupby("customer_id")["amount"].transform("median")
    remote = tx["channel"].isin(["online", "mobile"])
    usual_ip = tx[remote].groupby("customer_id")["ip_address"].agg(lambda ips: ips.mode().iloc[0])
    return pd.DataFrame({
        "log_amount": np.log(tx["amount"]),
        "amount_vs_usual": np.log(tx["amount"] / median_spend),
        "night": (tx["time"].dt.hour < 6).astype(float),
        "risky_category": tx["merchant_category"].isin(["electronics", "travel", "gambling"]).astype(float),
        "online": (tx["channel"] == "online").astype(float),
        "mobile": (tx["channel"] == "mobile").astype(float),
        "new_customer": ((tx["time"] - created.reindex(tx["customer_id"]).set_axis(tx.index)).dt.total_seconds()
                         < 3 * 86_400).astype(float),
        "burst": ((gap_before.fillna(1e9) < 600) | (gap_after.fillna(1e9) < 600)).astype(float),
        "unfamiliar_ip": (remote & (tx["ip_address"] != usual_ip.reindex(tx["customer_id"]).to_numpy())).astype(float),
        "label": (tx["is_fraud"] == "true").astype(int),
    })


def test_fraud_label_is_learnable_by_a_simple_model(clean_lake) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    root, report = clean_lake
    customers, transactions, _ = clean_frames(root)
    data = fraud_features(transactions, customers)
    fraud_rate = data["label"].mean()
    assert 0.01 <= fraud_rate <= 0.035
    assert report.fraud_rows == data["label"].sum()
    features, labels = data.drop(columns="label"), data["label"]
    scores = cross_val_predict(LogisticRegression(max_iter=1000), features, labels,
                               cv=StratifiedKFold(5, shuffle=True, random_state=0), method="predict_proba")[:, 1]
    auc = roc_auc_score(labels, scores)
    assert auc > 0.7, f"AUC {auc:.3f}"
    # and the signal is not carried by one trivial column: amounts alone do worse
    amount_only = roc_auc_score(labels, data["log_amount"])
    assert auc > amount_only


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------
def test_main_writes_a_lake_and_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--lake-root", str(tmp_path / "lake"), "--start", "2024-05-01", "--days", "1",
                 "--rows-per-day", "200", "--seed", "3", "--dirty"])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["rows"]["transactions"] > 200
    assert bronze_file(tmp_path / "lake", "transactions", date(2024, 5, 1), "-partner").exists()
    assert (tmp_path / "lake" / "_labels" / "dirty" / "ingest_date=2024-05-01.json").exists()


def test_main_requires_a_start_date(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["--days", "1", "--rows-per-day", "10"])
    assert raised.value.code == 2
    assert "--start" in capsys.readouterr().err


@pytest.mark.parametrize(("days_", "rows"), [(0, 10), (1, 0), (1, 2_000_000)])
def test_generate_rejects_sizes_outside_the_id_spaces(tmp_path: Path, days_: int, rows: int) -> None:
    with pytest.raises(ValueError, match="rows_per_day"):
        generate(tmp_path, START, days_, rows)
    assert not (tmp_path / "bronze").exists()


def test_rerunning_clean_over_a_dirty_day_removes_the_partner_file_and_flaw_labels(tmp_path: Path) -> None:
    generate(tmp_path, START, 1, 200, seed=2, dirty=True)
    assert bronze_file(tmp_path, "transactions", START, "-partner").exists()
    generate(tmp_path, START, 1, 200, seed=2)
    assert not bronze_file(tmp_path, "transactions", START, "-partner").exists()
    assert not (tmp_path / "_labels" / "dirty" / f"ingest_date={START}.json").exists()
    assert len(read_csv(bronze_file(tmp_path, "transactions", START))[1]) == 200
