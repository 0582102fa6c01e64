"""Structured PII policies: Spark-native HMAC tokens, masking, generalisation, drop."""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from datetime import date, datetime

import pytest
from faker import Faker
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import Contract, load_contract, parse_contract
from jobs.pii.policies import PiiPolicyError, apply_column_policies, columns_with_action, protected_schema
from jobs.pii.tokens import (
    NORMALIZATIONS,
    hmac_sha256_hex,
    padded_keys,
    token_expr,
    token_value,
)
from tests.frames import assert_rows

KEY = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0")
OTHER_KEY = bytes(range(100, 132))
TOKEN = re.compile(r"^tok_[0-9a-f]{32}$")

UNICODE_SAMPLES = [
    "", " ", "a", "hello", "Zoë Saldaña", "Jürgen Müller", "Ærøskøbing", "İstanbul", "straße", "ΟΔΟΣ",
    "名字", "محمد", "😀 emoji", "a\u00a0b", "tab\tand\nnewline", "x" * 200, "'; DROP TABLE x; --",
]


def _strings(n: int) -> list[str]:
    fake = Faker(["en_US", "de_DE", "ja_JP", "ar_AA"])
    fake.seed_instance(11)
    rnd = random.Random(11)
    values = [fake.name() for _ in range(n // 2)] + [fake.email() for _ in range(n // 4)]
    values += ["".join(chr(rnd.randint(32, 0x2FFF)) for _ in range(rnd.randint(1, 30))) for _ in range(n // 4)]
    return values + UNICODE_SAMPLES


def _single_column(spark: SparkSession, values: list[str | None], name: str = "v") -> DataFrame:
    return spark.createDataFrame([(v,) for v in values], T.StructType([T.StructField(name, T.StringType())]))


HMAC_KEYS = {"k32": KEY, "k64": b"k" * 64, "k200": bytes(range(200))}  # 200 bytes: hashed first


def test_spark_hmac_equals_python_hmac(spark: SparkSession) -> None:
    values = _strings(240)
    df = _single_column(spark, values).select(
        "v", *(hmac_sha256_hex(F.col("v"), key).alias(name) for name, key in HMAC_KEYS.items()))
    mismatches = [(name, row.v) for row in df.collect() for name, key in HMAC_KEYS.items()
                  if row[name] != hmac.new(key, row.v.encode("utf-8"), hashlib.sha256).hexdigest()]
    assert mismatches == []
    assert len(values) > 250


def test_padded_keys_follow_rfc_2104() -> None:
    inner, outer = padded_keys(b"\x01" * 32)
    assert inner == b"\x37" * 32 + b"\x36" * 32
    assert outer == b"\x5d" * 32 + b"\x5c" * 32
    long_inner, _ = padded_keys(b"z" * 65)  # keys longer than the block are hashed first
    assert long_inner[:32] == bytes(b ^ 0x36 for b in hashlib.sha256(b"z" * 65).digest())


def test_spark_tokens_equal_python_tokens(spark: SparkSession) -> None:
    values = [*_strings(40), None, "  John.Smith@Example.COM ", "+1 (555) 123-4567 x89", "001-555-123-4567",
              "123 45 6789", "n/a", "4111-1111-1111-1111"]
    df = _single_column(spark, values).select(
        "v", *(token_expr(F.col("v"), KEY, n).alias(n) for n in NORMALIZATIONS))
    rows = df.collect()
    got = {(n, r.v): r[n] for r in rows for n in NORMALIZATIONS}
    assert got == {(n, v): token_value(v, KEY, n) for v in values for n in NORMALIZATIONS}
    assert all(t is None or TOKEN.match(t) for t in got.values())


def _distinct_tokens(spark: SparkSession, groups: dict[str, tuple[str, list[str]]]) -> dict[str, set]:
    """Tokens per named group of (normalisation, values), computed in one Spark job."""
    data = [(name, norm, value) for name, (norm, values) in groups.items() for value in values]
    df = spark.createDataFrame(data, "grp string, norm string, v string")
    token = F.lit(None).cast("string")
    for norm in NORMALIZATIONS:
        token = F.when(F.col("norm") == norm, token_expr(F.col("v"), KEY, norm)).otherwise(token)
    found: dict[str, set] = {name: set() for name in groups}
    for row in df.select("grp", token.alias("t")).collect():
        found[row.grp].add(row.t)
    return found


def test_normalisation_gives_one_token_per_person_and_none_for_blanks(spark: SparkSession) -> None:
    phones = ["(555) 123-4567", "555-123-4567", "555.123.4567 x89", "+1 555 123 4567", "1-555-123-4567",
              "001-555-123-4567"]
    found = _distinct_tokens(spark, {
        "email": ("email", ["john.smith@example.com", "  John.Smith@EXAMPLE.com "]),
        "phone": ("phone", phones),
        "ssn": ("digits", ["123-45-6789", "123 45 6789", "123456789"]),
        "name": ("text", ["Jane  Doe", " jane doe"]),
        "two names": ("text", ["Jane Doe", "Jane Roe"]),
        "blank phones": ("phone", ["n/a", "   ", "unknown"]),
        "blank text": ("text", ["", "  "]),
    })
    assert {name: len(tokens) for name, tokens in found.items()} == {
        "email": 1, "phone": 1, "ssn": 1, "name": 1, "two names": 2, "blank phones": 1, "blank text": 1}
    # blanks give null, not one token shared by every blank value
    assert found["blank phones"] == found["blank text"] == {None}
    assert None not in found["phone"] | found["email"]


def _customers(spark: SparkSession) -> DataFrame:
    contract = load_contract("customers")
    created = datetime(2024, 1, 2, 3, 4, 5)
    base = {"customer_id": "C00000001", "first_name": "Ada", "last_name": "Lovelace",
            "email": "ada@example.com", "phone": "(555) 123-4567", "ssn": "123-45-6789",
            "date_of_birth": date(1985, 7, 14), "street": "12 Analytical Way", "city": "London",
            "state": "LDN", "postal_code": "SW1A 1AA", "country": "GB", "segment": "premium",
            "created_at": created, "updated_at": created}
    nulls = {**base, "customer_id": "C00000002", "phone": None, "ssn": None, "date_of_birth": None,
             "street": None, "postal_code": None}
    return spark.createDataFrame([tuple(r[c] for c in contract.column_names) for r in (base, nulls)],
                                 contract.typed_schema)


def test_customers_policies(spark: SparkSession) -> None:
    contract = load_contract("customers")
    out = apply_column_policies(_customers(spark), contract, KEY)
    assert out.columns == contract.column_names  # nothing dropped, order kept
    assert out.schema == protected_schema(contract)
    same = {"first_name": token_value("Ada", KEY), "email": token_value("ada@example.com", KEY), "city": "London"}
    expected = [
        {**same, "customer_id": "C00000001", "phone": token_value("5551234567", KEY),
         "ssn": token_value("123456789", KEY), "street": token_value("12 analytical way", KEY),
         "date_of_birth": date(1985, 1, 1), "postal_code": "SW1"},
        {**same, "customer_id": "C00000002", "phone": None, "ssn": None, "street": None, "date_of_birth": None,
         "postal_code": None},
    ]
    assert_rows(out, expected)


def test_tokens_are_stable_across_runs_and_datasets_and_change_with_the_key(spark: SparkSession) -> None:
    customers = load_contract("customers")
    first_run = apply_column_policies(_customers(spark), customers, KEY)
    second_run = apply_column_policies(_customers(spark), customers, KEY)
    rotated = apply_column_policies(_customers(spark), customers, OTHER_KEY)
    # The same e-mail arriving in another dataset under another column name, in another case.
    leads_contract = parse_contract({
        "name": "leads", "format": "jsonl", "key": ["lead_id"], "event_time": "at",
        "columns": [{"name": "lead_id", "type": "string"}, {"name": "at", "type": "timestamp"},
                    {"name": "contact_email", "type": "string", "pii": "tokenize"}]}, "test")
    leads = spark.createDataFrame([("L1", datetime(2024, 1, 1), " ADA@example.com")],
                                  "lead_id string, at timestamp, contact_email string")
    lead_token = apply_column_policies(leads, leads_contract, KEY).select(F.col("contact_email").alias("email"))
    runs = (first_run.select(F.lit("first").alias("run"), "email")
            .unionByName(second_run.select(F.lit("second").alias("run"), "email"))
            .unionByName(rotated.select(F.lit("rotated").alias("run"), "email"))
            .unionByName(lead_token.select(F.lit("leads").alias("run"), "email")))
    by_run: dict[str, set[str]] = {}
    for row in runs.collect():
        by_run.setdefault(row.run, set()).add(row.email)
    assert by_run["first"] == by_run["second"] == by_run["leads"] == {token_value("ada@example.com", KEY)}
    assert by_run["rotated"] == {token_value("ada@example.com", OTHER_KEY)} != by_run["first"]


def test_transactions_mask_card_and_tokenize_ip(spark: SparkSession) -> None:
    contract = load_contract("transactions")
    schema = T.StructType([T.StructField(c, T.StringType()) for c in ("transaction_id", "card_number", "ip_address")])
    df = spark.createDataFrame([("T1", "4111 1111 1111 1234", "10.0.0.1"), ("T2", "4532-0151-1283-0366", None),
                                ("T3", None, " 10.0.0.1 "), ("T4", "123", "10.0.0.2")], schema)
    out = apply_column_policies(df, contract, KEY)  # only the pii-declared columns need to be present
    assert_rows(out, [
        {"transaction_id": "T1", "card_number": "************1234", "ip_address": token_value("10.0.0.1", KEY)},
        {"transaction_id": "T2", "card_number": "************0366", "ip_address": None},
        {"transaction_id": "T3", "card_number": None, "ip_address": token_value("10.0.0.1", KEY)},
        {"transaction_id": "T4", "card_number": "***", "ip_address": token_value("10.0.0.2", KEY)},
    ])


def _contract(columns: list[dict]) -> Contract:
    return parse_contract({"name": "t", "format": "jsonl", "key": ["id"], "event_time": "at",
                           "columns": [{"name": "id", "type": "string"}, {"name": "at", "type": "timestamp"},
                                       *columns]}, "test")


def test_drop_generalize_timestamp_and_keep_last_option(spark: SparkSession) -> None:
    contract = _contract([{"name": "secret", "type": "string", "pii": "drop"},
                          {"name": "seen_at", "type": "timestamp", "pii": {"action": "generalize", "to": "month"}},
                          {"name": "account", "type": "string", "pii": {"action": "mask", "keep_last": 2}},
                          {"name": "notes", "type": "string", "pii": "redact"}])
    df = spark.createDataFrame([("1", datetime(2024, 5, 6), "s3cr3t", datetime(2024, 5, 17, 8, 9), "AB-12345", "hi")],
                               "id string, at timestamp, secret string, seen_at timestamp, account string, "
                               "notes string")
    out = apply_column_policies(df, contract, KEY)
    assert out.columns == ["id", "at", "seen_at", "account", "notes"]
    assert_rows(out, [{"id": "1", "seen_at": datetime(2024, 5, 1), "account": "*****45", "notes": "hi"}])
    assert columns_with_action(contract, "redact") == ["notes"]
    assert "secret" not in protected_schema(contract).fieldNames()


@pytest.mark.parametrize(("column", "message"), [
    ({"name": "zip", "type": "string", "pii": {"action": "generalize", "to": "year"}}, "needs a date"),
    ({"name": "dob", "type": "date", "pii": {"action": "generalize", "keep_first": 3}}, "needs a string"),
    ({"name": "x", "type": "string", "pii": {"action": "mask", "keep_lst": 4}}, "unknown option"),
    ({"name": "x", "type": "string", "pii": {"action": "tokenize", "normalize": "soundex"}}, "normalize"),
    ({"name": "x", "type": "string", "pii": {"action": "mask", "keep_last": -1}}, "non-negative"),
])
def test_invalid_options_fail_naming_the_column(spark: SparkSession, column: dict, message: str) -> None:
    df = spark.createDataFrame([("1", datetime(2024, 1, 1), None)], f"id string, at timestamp, {column['name']} "
                               f"{'date' if column['type'] == 'date' else 'string'}")
    with pytest.raises(PiiPolicyError, match=message) as error:
        apply_column_policies(df, _contract([column]), KEY)
    assert repr(column["name"]) in str(error.value)


def test_short_key_is_rejected(spark: SparkSession) -> None:
    with pytest.raises(PiiPolicyError, match="at least 32 bytes"):
        apply_column_policies(_customers(spark), load_contract("customers"), b"short")


def test_padded_key_literals_are_redacted_from_printed_plans(spark: SparkSession, capsys) -> None:
    out = apply_column_policies(_customers(spark), load_contract("customers"), KEY)
    out.explain(True)
    printed = capsys.readouterr().out
    inner, outer = padded_keys(KEY)
    assert "redacted" in printed
    for secret in (KEY.hex(), inner.hex(), outer.hex()):
        assert secret not in printed.lower()
