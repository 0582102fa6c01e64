"""Reading bronze CSV: one column per header field, the file name as a literal, drift known per file."""

from __future__ import annotations

import json
from pathlib import Path

from jobs.bronze import EXTRA_COLUMNS, read_bronze
from jobs.contracts import load_contract
from jobs.silver.conform import REASONS, RECORD_KEY, conform
from tests.frames import assert_rows

HEADER = "transaction_id,customer_id,card_number,amount,currency,merchant_id,merchant_category,event_time,channel," \
         "ip_address,is_fraud"
ROW = "T00000000000A,C00000001,4111111111111111,10.00,usd,M000001,grocery,2024-01-03T10:00:00Z,online,10.0.0.1,false"


def write(folder: Path, name: str, lines: list[str]) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_each_file_is_read_with_its_header_and_named_on_its_rows(spark, tmp_path):
    contract = load_contract("transactions")
    plain = write(tmp_path, "a.csv", [HEADER, ROW])
    partner = write(tmp_path, "b.csv", [HEADER + ",promo_code,channel_note",
                                        ROW.replace("0A,", "0B,") + ",SPRING,",
                                        ROW.replace("0A,", "0C,") + ", ,"])
    records = read_bronze(spark, [plain, partner], contract)
    assert_rows(records, [
        {"_source_file": plain, "_f_transaction_id": "T00000000000A", "_f_promo_code": None, EXTRA_COLUMNS: []},
        {"_source_file": partner, "_f_transaction_id": "T00000000000B", "_f_promo_code": "SPRING",
         EXTRA_COLUMNS: ["promo_code"]},  # a blank cell is an absent field, not drift
        {"_source_file": partner, "_f_transaction_id": "T00000000000C", "_f_promo_code": " ", EXTRA_COLUMNS: []},
    ])


def test_a_malformed_csv_row_keeps_its_line_and_no_fields(spark, tmp_path):
    contract = load_contract("transactions")
    path = write(tmp_path, "t.csv", [HEADER, ROW, "T00000000000D,only,three"])
    out = conform(read_bronze(spark, [path], contract), contract)
    assert_rows(out.where(f"size({REASONS}) > 0"), [
        {"_raw_record": "T00000000000D,only,three", REASONS: ["malformed_record"], RECORD_KEY: ""},
    ])


def test_a_rejected_csv_row_is_kept_as_json_of_its_fields_with_the_key_as_sent(spark, tmp_path):
    contract = load_contract("transactions")
    path = write(tmp_path, "t.csv", [HEADER, ROW.replace("10.00", "ten").replace(",usd,", ",,")])
    row = conform(read_bronze(spark, [path], contract), contract).first()
    assert row[REASONS] == ["type_mismatch:amount", "missing_required:currency"]  # in contract order
    assert row[RECORD_KEY] == "T00000000000A"
    raw = json.loads(row["_raw_record"])
    assert raw["amount"] == "ten" and raw["currency"] is None and list(raw) == HEADER.split(",")
