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

from jobs.tables import lake_table
from pipelines.lake_tables import open_local
from tests.shared_lake import DAYS, START, IngestedLake

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEYS = {"customers": "customer_id", "transactions": "transaction_id", "support_tickets": "ticket_id"}
EXPECTED_REASON = {"null_required": "missing_required:{column}", "wrong_type": "type_mismatch:{column}",
                   "extra_column": "unexpected_column:{column}", "malformed": "malformed_record"}


@pytest.fixture(scope="module")
def dirty_lake(ingested_lake: IngestedLake) -> Path:
    """The session's dirty lake (tests/shared_lake.py): DAYS generated days, each through the ingestion pipeline."""
    return ingested_lake.root


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
        quarantine = lake_table(spark, dirty_lake, "quarantine", dataset).where(F.col("ingest_date") == F.lit(day))
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
        silver = lake_table(spark, dirty_lake, "silver", dataset)
        contract_key = KEYS[dataset]
        for flaw in (f for f in info["flaws"] if f["flaw"] == "late_arrival"):
            event_day = flaw["value"][:10]
            landed = silver.where(F.col(contract_key) == flaw["key"]).select(
                F.concat_ws("-", "year", "month", "day").alias("partition")).collect()
            assert [r["partition"] for r in landed] == [event_day], (dataset, flaw)


# --- PII: nothing raw reaches silver or gold ------------------------------------------------------------

def _raw_pii_values(lake: Path) -> dict[str, set[str]]:
    """Every structured PII value the generator put into bronze, in raw and normalised forms."""
    values: dict[str, set[str]] = {}
    for path in (lake / "_labels" / "pii_values").rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            forms = values.setdefault(f"{entry['dataset']}.{entry['column']}", set())
            for value in entry["values"]:
                text = str(value).strip()
                digits = "".join(ch for ch in text if ch.isdigit())
                forms.update({text, text.lower()})
                if len(digits) >= 7 and entry["type"] not in ("DATE_OF_BIRTH",):
                    forms.add(digits)
    return values


def _strings_in(spark, lake: Path, layer: str) -> set[str]:
    found: set[str] = set()
    for name in [n.split(".")[1] for n in open_local(lake).names() if n.startswith(f"{layer}.")]:
        frame = lake_table(spark, lake, layer, name)
        columns = [f.name for f in frame.schema.fields if f.dataType.simpleString() == "string"
                   and f.name not in ("city", "state")]  # a town may share a first name
        for row in frame.select(*columns).collect():
            found.update(str(v).strip().lower() for v in row if v is not None)
    return found


def test_no_structured_pii_value_reaches_silver_or_gold(spark, dirty_lake):
    stored = _strings_in(spark, dirty_lake, "silver") | _strings_in(spark, dirty_lake, "gold")
    leaks = {column: sorted(forms & stored)[:5] for column, forms in _raw_pii_values(dirty_lake).items()
             if column.split(".")[1] not in ("date_of_birth", "postal_code") and forms & stored}
    assert leaks == {}
    assert stored, "the audit read nothing"


def test_free_text_redaction_recall_per_entity_type(spark, dirty_lake):
    """Labelled PII inserted into ticket subjects and bodies must be gone from silver."""
    redacted = {row["ticket_id"]: row for row in
                lake_table(spark, dirty_lake, "silver", "support_tickets").select(
                    "ticket_id", "subject", "body").collect()}
    found: Counter[str] = Counter()
    missed: Counter[str] = Counter()
    examples: list[tuple[str, str]] = []
    for path in (dirty_lake / "_labels" / "support_tickets").rglob("labels.jsonl"):
        for line in path.read_text().splitlines():
            label = json.loads(line)
            row = redacted.get(label["ticket_id"])
            if row is None:
                continue  # quarantined or superseded
            for entity in label["entities"]:
                text = row[entity["field"]] or ""
                if entity["value"] in text:
                    missed[entity["type"]] += 1
                    examples.append((entity["type"], entity["value"]))
                else:
                    found[entity["type"]] += 1
    recall = {t: found[t] / (found[t] + missed[t]) for t in found | missed}
    print("free-text recall:", {t: round(r, 3) for t, r in sorted(recall.items())})
    for entity_type in ("EMAIL_ADDRESS", "PHONE_NUMBER", "US_SSN", "CREDIT_CARD"):
        assert recall.get(entity_type, 1.0) >= 0.95, (entity_type, recall, examples[:5])
    assert recall.get("PERSON", 1.0) >= 0.90, (recall, examples[:5])
    assert sum(found.values()) > 20, "too few labelled entities to measure"
