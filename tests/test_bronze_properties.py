"""Property tests: Hypothesis writes CSV and JSON-lines files as exporters would (random quoting,
delimiters, quotes and line ends inside fields, line ends, BOMs, encodings, compression, blank lines,
JSON arrays) and every generated row must come out of bronze reading and conform exactly once:
promotable with its value intact, or refused with a reason. Bounded and seeded (derandomize)."""

from __future__ import annotations

import bz2
import codecs
import csv
import dataclasses
import gzip
import io
import json
import tempfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jobs.bronze import read_inspected
from jobs.bronze_files import inspect_file
from jobs.contracts import load_contract
from jobs.silver.conform import REASONS, RECORD_KEY, conform

SETTINGS = settings(max_examples=15, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
HEADER = ["transaction_id", "customer_id", "card_number", "amount", "currency", "merchant_id",
          "merchant_category", "event_time", "channel", "ip_address", "is_fraud"]
# ip_address: a string column with no pattern or standardisation in conform, so its value must come
# out exactly as written (the job tokenizes it later).
FREE = "ip_address"

specials = st.sampled_from([",", '"', "\n", "\r\n", "\r", "'", ";", "\t", "é", "ß", "€", "日本", "🙂", "\\"])
plain = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff")
value = st.lists(specials | plain, min_size=1, max_size=8).map("".join).filter(lambda v: v.strip(" ") == v)
encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1-declared", "latin-1-undeclared"])
codecs_ = st.sampled_from([None, "gzip", "bzip2", "zstd"])


def compress(data: bytes, codec: str | None) -> bytes:
    if codec == "gzip":
        return gzip.compress(data)
    if codec == "bzip2":
        return bz2.compress(data)
    if codec == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def encode(text: str, encoding: str) -> tuple[bytes, str]:
    """The file's bytes and the contract encoding it is read with."""
    if encoding == "latin-1-declared":
        return text.encode("latin-1"), "latin-1"
    if encoding == "latin-1-undeclared":  # a latin-1 export arriving in a UTF-8 feed
        return text.encode("latin-1"), "utf-8"
    return text.encode(encoding), "utf-8"


def latin1(values: list[str], encoding: str) -> list[str]:
    if not encoding.startswith("latin-1"):
        return values
    return ["".join(ch for ch in v if " " <= ch <= "~" or "\xa0" <= ch <= "\xff" or ch in ",\"\n\r';\t\\") or "x"
            for v in values]


def write(suffix: str, data: bytes) -> tuple[str, int]:
    path = Path(tempfile.mkdtemp()) / f"feed{suffix}"
    path.write_bytes(data)
    return str(path), len(data)


def outcome(spark, path: str, size: int, contract, key_column: str = "transaction_id") -> dict[str, dict]:
    entry = inspect_file(path, size, contract)
    assert entry.outcome == "read", entry
    rows = conform(read_inspected(spark, [entry], contract), contract).collect()
    found: dict[str, dict] = {}
    for row in rows:
        key = row[key_column] or row[RECORD_KEY]
        assert key not in found, f"{key} came out twice"
        found[key] = row.asDict()
    return found


def expect_once(found: dict[str, dict], written: dict[str, str], column: str, undeclared_latin1: bool) -> None:
    assert set(found) == set(written), (sorted(found), sorted(written))
    for key, text in written.items():
        row = found[key]
        if undeclared_latin1 and not text.isascii():
            assert row[REASONS] and row[REASONS][0] == f"undecodable_bytes:{column}", row
            assert "\ufffd" not in (row["_raw_record"] or "")
        else:
            assert row[REASONS] == [], row
            assert row[column] == text, (row[column], text)


@SETTINGS
@given(values=st.lists(value, min_size=1, max_size=6), encoding=encodings, codec=codecs_,
       line_end=st.sampled_from(["\n", "\r\n", "\r"]), quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
       named=st.booleans())
def test_every_generated_csv_row_comes_out_once(spark, values, encoding, codec, line_end, quoting, named):
    values = latin1(values, encoding)
    rows = [[f"T{index:012X}", "C00000001", "4111111111111111", "10.00", "USD", "M000001", "grocery",
             "2024-01-03T10:00:00Z", "online", text, "false"] for index, text in enumerate(values)]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, quoting=quoting, lineterminator=line_end)
    writer.writerow(HEADER)
    writer.writerows(rows)
    data, declared = encode(buffer.getvalue(), encoding)
    contract = dataclasses.replace(load_contract("transactions"), encoding=declared)
    suffix = ".csv" + ({"gzip": ".gz", "bzip2": ".bz2", "zstd": ".zst"}.get(codec or "", "") if named else "")
    path, size = write(suffix, compress(data, codec))
    found = outcome(spark, path, size, contract)
    expect_once(found, {r[0]: r[9] for r in rows}, FREE, encoding == "latin-1-undeclared")


@SETTINGS
@given(values=st.lists(value, min_size=1, max_size=6), encoding=encodings, codec=codecs_,
       line_end=st.sampled_from(["\n", "\r\n", "\r"]), blank_lines=st.booleans(), as_array=st.booleans(),
       ascii_only=st.booleans())
def test_every_generated_json_line_comes_out_once(spark, values, encoding, codec, line_end, blank_lines,
                                                  as_array, ascii_only):
    values = latin1(values, encoding)
    records = [{"customer_id": f"C{index:08d}", "first_name": "Ann", "last_name": "Lee", "email": "a@x.com",
                "country": "US", "segment": "consumer", "city": text, "created_at": "2023-06-01T00:00:00Z",
                "updated_at": "2024-01-03T08:00:00Z"} for index, text in enumerate(values)]
    if as_array:
        text = json.dumps(records, ensure_ascii=ascii_only, indent=1)
    else:
        separator = line_end + (line_end if blank_lines else "")
        text = separator.join(json.dumps(r, ensure_ascii=ascii_only) for r in records) + line_end
    data, declared = encode(text, encoding)
    contract = dataclasses.replace(load_contract("customers"), encoding=declared)
    path, size = write(".jsonl" if not as_array else ".json", compress(data, codec))
    found = outcome(spark, path, size, contract, "customer_id")
    undecodable = encoding == "latin-1-undeclared" and not ascii_only
    expect_once(found, {r["customer_id"]: r["city"] for r in records}, "city", undecodable)


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_a_contract_encoding_reads_a_spreadsheet_export(spark, encoding):
    """Excel's 'CSV (Comma delimited)' on Windows writes cp1252 with CRLF: declared, it reads intact."""
    contract = dataclasses.replace(load_contract("transactions"), encoding=encoding)
    text = ",".join(HEADER) + "\r\n" + "T000000000001,C00000001,4111111111111111,10.00,USD,M000001,grocery," \
                                       "2024-01-03T10:00:00Z,online,Café Zürich,false\r\n"
    path, size = write(".csv", text.encode(encoding))
    found = outcome(spark, path, size, contract)
    assert found["T000000000001"][FREE] == "Café Zürich" and found["T000000000001"][REASONS] == []
    assert codecs.lookup(contract.encoding)
