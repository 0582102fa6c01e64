"""A corpus of bronze files as feeds really deliver them, each built by the tool that writes such files
(Python's csv/json/gzip/bz2 modules, the `gzip`/`bzip2`/`zstd` command-line tools when present,
zstandard, spreadsheet- and database-style dialects), with what the job must make of each.

Every case names its file, its bytes, the outcome and route the job's report must give it, and for each
row it holds: `silver` (promoted with its values intact) or the first quarantine reason expected.
Keys are unique per case, so one ingest folder can hold the whole corpus beside a clean file.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import json
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field

import zstandard

from jobs.ml.feature_spec import MERCHANT_CATEGORIES

TXN_HEADER = ["transaction_id", "customer_id", "card_number", "amount", "currency", "merchant_id",
              "merchant_category", "event_time", "channel", "ip_address", "is_fraud"]
SILVER = "silver"
# The silver suite keeps merchant_category to a value set: a row whose category is outside it is read
# intact and then routed to quarantine by the quality gate (its raw_record shows the value as read).
CATEGORIES = set(MERCHANT_CATEGORIES)
GATED = "expectation:expect_column_values_to_be_in_set(merchant_category)"


@dataclass
class Case:
    name: str  # the file's path under the ingest folder
    data: bytes
    outcome: str  # read | empty | header_only | skipped | quarantined
    route: str | None = None  # native | decoded
    rows: dict[str, str] = field(default_factory=dict)  # key -> "silver" or the first expected reason
    keyless: list[str] = field(default_factory=list)  # first reasons of rows without a usable key
    categories: dict[str, str] = field(default_factory=dict)  # key -> the value silver must hold (intact)
    reason: str | None = None  # the quarantine reason of a file quarantined whole


def txn(case: int, row: int, category: str = "grocery", customer: str | None = None,
        amount: str = "12.50") -> list[str]:
    return [f"T{case:04X}{row:08X}", customer or f"C{case:04d}{row:04d}", "4111111111111111", amount, "usd",
            "M000001", category, "2024-01-03T10:00:00Z", "online", "10.0.0.1", "false"]


def csv_text(rows: list[list[str]], header: list[str] = TXN_HEADER, **dialect) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, **dialect)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def tool(command: list[str], data: bytes, fallback) -> bytes:
    """Compress with the command-line tool as a shipper would, or the Python module if it is absent."""
    if shutil.which(command[0]):
        return subprocess.run(command, input=data, capture_output=True, check=True).stdout
    return fallback(data)


def keys(rows: list[list[str]]) -> list[str]:
    return [r[0] for r in rows]


def promoted(rows: list[list[str]]) -> dict[str, str]:
    return {r[0]: SILVER if r[6] in CATEGORIES else GATED for r in rows}


def intact(rows: list[list[str]]) -> dict[str, str]:
    return {r[0]: r[6].lower() for r in rows}


def transactions_corpus() -> list[Case]:
    cases: list[Case] = []

    def add(name: str, data: bytes, outcome: str, route: str | None = None, rows: list[list[str]] | None = None,
            **extra) -> None:
        rows = rows or []
        cases.append(Case(name, data, outcome, route, rows=extra.pop("expect", promoted(rows)),
                          categories=extra.pop("categories", intact(rows)), **extra))

    n = iter(range(1, 1000))

    def fresh(count: int, **values) -> list[list[str]]:
        case = next(n)
        return [txn(case, r, **values) for r in range(count)]

    rows = fresh(3)
    add("plain_lf.csv", csv_text(rows, lineterminator="\n").encode(), "read", "native", rows)
    rows = fresh(3)
    add("excel_crlf.csv", csv_text(rows).encode(), "read", "decoded", rows)  # csv's excel dialect: CRLF
    rows = fresh(3, category="Café")
    add("excel_csv_utf8_bom_crlf.csv", csv_text(rows).encode("utf-8-sig"), "read", "decoded", rows)
    rows = fresh(3)
    add("classic_mac_cr.csv", csv_text(rows, lineterminator="\r").encode(), "read", "decoded", rows)
    i = next(n)
    rows = [txn(i, 0, category="home\ngarden"), txn(i, 1), txn(i, 2, category="notes, \"quoted\"\nline two"),
            txn(i, 3), txn(i, 4, category="a\r\nb")]
    add("spreadsheet_multiline_notes.csv", csv_text(rows, quoting=csv.QUOTE_ALL).encode(), "read", "decoded", rows)
    rows = fresh(2, category="home\ngarden")
    add("multiline_lf.csv", csv_text(rows, lineterminator="\n").encode(), "read", "decoded", rows)
    rows = fresh(3)
    add("quote_all_lf.csv", csv_text(rows, quoting=csv.QUOTE_ALL, lineterminator="\n").encode(), "read", "native",
        rows)
    rows = fresh(3, category="food, drink")
    add("delimiter_inside_field.csv", csv_text(rows, lineterminator="\n").encode(), "read", "native", rows)
    rows = fresh(3, category='the "best" shop')
    add("doubled_quotes.csv", csv_text(rows, lineterminator="\n").encode(), "read", "native", rows)
    rows = fresh(4)
    add("gzip_module.csv.gz", gzip.compress(csv_text(rows, lineterminator="\n").encode()), "read", "native", rows)
    rows = fresh(3)
    add("gzip_tool.csv.gz", tool(["gzip", "-c"], csv_text(rows, lineterminator="\n").encode(), gzip.compress),
        "read", "native", rows)
    rows = fresh(3)
    add("gzip_content_plain_name.csv", gzip.compress(csv_text(rows, lineterminator="\n").encode()),
        "read", "decoded", rows)
    rows = fresh(3)
    add("bzip2_tool.csv.bz2", tool(["bzip2", "-c"], csv_text(rows, lineterminator="\n").encode(), bz2.compress),
        "read", "native", rows)
    rows = fresh(3)
    add("zstd_tool.csv.zst", tool(["zstd", "-q", "-c"], csv_text(rows, lineterminator="\n").encode(),
                                  zstandard.ZstdCompressor().compress), "read", "decoded", rows)
    rows = fresh(3)
    add("zstd_content_csv_name.csv", zstandard.ZstdCompressor().compress(csv_text(rows).encode()),
        "read", "decoded", rows)
    rows = fresh(4)
    text = csv_text(rows, lineterminator="\n")
    head, tail = text.split("\n", 2)[:2], text.split("\n", 2)[2]
    members = gzip.compress(("\n".join(head) + "\n").encode()) + gzip.compress(tail.encode())
    add("log_shipper_concatenated_members.csv.gz", members, "read", "decoded", rows)
    i = next(n)
    rows = [txn(i, 0), txn(i, 1, category="caf\udce9"), txn(i, 2)]
    add("latin1_byte_in_utf8_feed.csv", csv_text(rows).encode("utf-8", "surrogateescape"), "read", "decoded",
        expect={rows[0][0]: SILVER, rows[1][0]: "undecodable_bytes:merchant_category", rows[2][0]: SILVER},
        categories={rows[0][0]: "grocery", rows[2][0]: "grocery", rows[1][0]: "caf\\xe9"})
    rows = fresh(3, category="São Paulo store")
    add("sqlserver_utf16le_bom.csv", csv_text(rows).encode("utf-16"), "read", "decoded", rows)
    rows = fresh(2, category="Zürich")
    add("utf16be_bom.csv", codecs.BOM_UTF16_BE + csv_text(rows).encode("utf-16-be"), "read", "decoded", rows)
    rows = fresh(3)
    header = [f" {name} " for name in TXN_HEADER]
    add("header_with_spaces.csv", csv_text(rows, header=header, lineterminator="\n").encode(), "read", "native", rows)
    rows = fresh(3)
    add("postgres_copy_csv_header.csv", csv_text(rows, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).encode(),
        "read", "native", rows)
    add("zero_bytes.csv", b"", "empty")
    add("header_only.csv", csv_text([], lineterminator="\n").encode(), "header_only")
    add("header_only_bom_crlf.csv", csv_text([]).encode("utf-8-sig"), "header_only")
    add("blank_lines_only.csv", b"\n\n  \n", "empty")
    rows = fresh(50)
    full = gzip.compress(csv_text(rows, lineterminator="\n").encode())
    add("cut_mid_upload.csv.gz", full[: len(full) // 2], "quarantined", expect={}, categories={},
        reason="unreadable_file:truncated_gzip")
    i = next(n)
    rows = [txn(i, 0), txn(i, 1), txn(i, 2, category="long note")]
    text = csv_text(rows, quoting=csv.QUOTE_ALL, lineterminator="\n")
    add("cut_inside_quoted_field.csv", text[: text.rindex("long") + 2].encode(), "read", "decoded",
        expect=promoted(rows[:2]), categories=intact(rows[:2]), keyless=["malformed_record"])
    i = next(n)
    rows = [txn(i, 0), txn(i, 1), txn(i, 2)]
    text = csv_text(rows, lineterminator="\n")
    add("cut_mid_row.csv", text[: text.rindex("M000001")].encode(), "read", "native",
        expect=promoted(rows[:2]), categories=intact(rows[:2]), keyless=["malformed_record"])
    add("image_named_csv.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "quarantined",
        reason="unreadable_file:not_text")
    add("binary_dump.csv", bytes(range(256)) * 16, "quarantined", reason="unreadable_file:not_text")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("inner.csv", csv_text([txn(999, 0)]))
    add("export.zip", archive.getvalue(), "quarantined", reason="unreadable_file:not_text")
    add("_SUCCESS", b"", "skipped")
    add(".upload.csv.crdownload", b"partial", "skipped")
    add("_temporary/0/part-00000.csv", csv_text([txn(998, 0)]).encode(), "skipped")
    i = next(n)
    rows = [txn(i, 0), txn(i, 1, customer="C0000\x000001"), txn(i, 2, customer="CUST-17")]
    add("nul_and_bad_customer_ids.csv", csv_text(rows, lineterminator="\n").encode(), "read", "native",
        expect={rows[0][0]: SILVER, rows[1][0]: "control_character:customer_id",
                rows[2][0]: "invalid_format:customer_id"}, categories={rows[0][0]: "grocery"})
    rows = fresh(2)
    add("excel_de_semicolons.csv", csv_text(rows, delimiter=";").encode("cp1252"), "quarantined",
        reason="unreadable_file:bad_header")
    add("duplicate_header.csv", csv_text([txn(997, 0)], header=[*TXN_HEADER[:-1], "amount"]).encode(),
        "quarantined", reason="unreadable_file:bad_header")
    add("readme.txt", b"This folder holds the payments feed.\nContact ops.\n", "quarantined",
        reason="unreadable_file:bad_header")
    i = next(n)
    rows = [txn(i, 0), txn(i, 1), ["T" + f"{i:04X}00000002", "only", "three"]]
    add("wrong_field_count.csv", csv_text(rows[:2], lineterminator="\n").encode() + b"T0000,only,three\n",
        "read", "native", expect=promoted(rows[:2]), categories=intact(rows[:2]), keyless=["malformed_record"])
    return cases


# --- customers (JSON lines) -------------------------------------------------------------------

def customer(case: int, row: int, **values) -> dict:
    record = {"customer_id": f"C{case:04d}{row:04d}", "first_name": "Ann", "last_name": "Lee", "email": "a@x.com",
              "country": "US", "segment": "consumer", "city": "Springfield", "created_at": "2023-06-01T00:00:00Z",
              "updated_at": "2024-01-03T08:00:00Z"}
    record.update(values)
    return record


def jsonl(records: list[dict], end: str = "\n") -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + end for r in records)


def json_cases() -> list[Case]:
    cases: list[Case] = []

    def add(name: str, data: bytes, outcome: str, route: str | None = None, records: list[dict] | None = None,
            **extra) -> None:
        records = records or []
        expect = extra.pop("expect", dict.fromkeys((r["customer_id"] for r in records), SILVER))
        categories = extra.pop("categories", {r["customer_id"]: r["city"] for r in records})
        cases.append(Case(name, data, outcome, route, rows=expect, categories=categories, **extra))

    n = iter(range(501, 1000))

    def fresh(count: int, **values) -> list[dict]:
        case = next(n)
        return [customer(case, r, **values) for r in range(count)]

    records = fresh(3)
    add("shipper.jsonl", jsonl(records).encode(), "read", "native", records)
    records = fresh(3)
    add("blank_lines.jsonl", ("\n" + jsonl(records, end="\n\n") + "   \n").encode(), "read", "native", records)
    records = fresh(3, city="Köln")
    add("windows_crlf.jsonl", jsonl(records, end="\r\n").encode(), "read", "decoded", records)
    records = fresh(2, city="Málaga")
    add("bom.jsonl", jsonl(records).encode("utf-8-sig"), "read", "decoded", records)
    records = fresh(4)
    add("api_dump_array.json", json.dumps(records, indent=2).encode(), "read", "decoded", records)
    records = fresh(3)
    add("vector.ndjson.gz", gzip.compress(jsonl(records).encode()), "read", "native", records)
    records = fresh(4)
    add("fluentbit_chunks.jsonl.gz", gzip.compress(jsonl(records[:2]).encode()) + gzip.compress(
        jsonl(records[2:]).encode()), "read", "decoded", records)
    records = fresh(3)
    add("zstd.jsonl.zst", zstandard.ZstdCompressor().compress(jsonl(records).encode()), "read", "decoded", records)
    records = fresh(3)
    add("bzip2_content.jsonl", bz2.compress(jsonl(records).encode()), "read", "decoded", records)
    records = fresh(2, city="Ōsaka")
    add("utf16.jsonl", jsonl(records).encode("utf-16"), "read", "decoded", records)
    i = next(n)
    records = [customer(i, 0), customer(i, 1, city="Montr\udce9al"), customer(i, 2)]
    add("latin1_byte.jsonl", jsonl(records).encode("utf-8", "surrogateescape"), "read", "decoded",
        expect={records[0]["customer_id"]: SILVER, records[1]["customer_id"]: "undecodable_bytes:city",
                records[2]["customer_id"]: SILVER},
        categories={records[0]["customer_id"]: "Springfield", records[2]["customer_id"]: "Springfield"})
    i = next(n)
    records = [customer(i, 0), customer(i, 1, city={"name": "Paris"}), customer(i, 2, state=["NY", "NJ"]),
               customer(i, 3, city="{not an object}")]
    add("nested_where_scalar.jsonl", jsonl(records).encode(), "read", "native",
        expect={records[0]["customer_id"]: SILVER, records[1]["customer_id"]: "type_mismatch:city",
                records[2]["customer_id"]: "type_mismatch:state", records[3]["customer_id"]: SILVER},
        categories={records[0]["customer_id"]: "Springfield", records[3]["customer_id"]: "{not an object}"})
    i = next(n)
    records = [customer(i, 0), customer(i, 1)]
    bad = customer(i, 2)
    bad["customer_id"] = f"C{i:04d}\u00000002"
    add("nul_in_key.jsonl", jsonl([*records, bad]).encode(), "read", "native",
        expect={**dict.fromkeys((r["customer_id"] for r in records), SILVER),
                bad["customer_id"]: "control_character:customer_id"},
        categories={r["customer_id"]: "Springfield" for r in records})
    i = next(n)
    records = [customer(i, 0), customer(i, 1)]
    text = jsonl([*records, customer(i, 2)])
    add("cut_mid_line.jsonl", text[: len(text) - 40].encode(), "read", "native", records,
        keyless=["malformed_record"])
    records = fresh(40)
    full = gzip.compress(jsonl(records).encode())
    add("cut_mid_upload.jsonl.gz", full[: len(full) - 20], "quarantined", expect={}, categories={},
        reason="unreadable_file:truncated_gzip")
    add("empty.jsonl", b"", "empty")
    return cases
