"""Typing, standardising and reasons: every way a bronze record can fail is named."""

import json

import pytest
from pyspark.sql import types as T

from jobs.contracts import load_contract, parse_contract
from jobs.silver.conform import conform
from tests.frames import assert_rows

RAW = T.StructType([T.StructField("_source_file", T.StringType()), T.StructField("_raw_record", T.StringType()),
                    T.StructField("_fields", T.MapType(T.StringType(), T.StringType()))])

GOOD_TXN = {"transaction_id": "T0000000000AB", "customer_id": "C00000001", "card_number": "4111111111111111",
            "amount": " 12.50 ", "currency": "usd", "merchant_id": "M000001", "merchant_category": " Grocery",
            "event_time": "2024-01-03T10:00:00Z", "channel": "ONLINE", "ip_address": "10.0.0.1", "is_fraud": "False"}


def records(spark, *fields):
    return spark.createDataFrame([("f.csv", json.dumps(f) if f else "garbage", f) for f in fields], RAW)


def test_a_good_record_is_typed_and_standardised(spark):
    out = conform(records(spark, GOOD_TXN), load_contract("transactions")).collect()[0]
    assert out["_reasons"] == []
    assert str(out["amount"]) == "12.50"
    assert (out["currency"], out["merchant_category"], out["channel"]) == ("USD", "grocery", "online")
    assert out["event_time"].isoformat() == "2024-01-03T10:00:00"  # UTC session
    assert out["is_fraud"] is False


@pytest.mark.parametrize(("change", "reasons"), [
    ({"amount": "12,50 EUR"}, ["type_mismatch:amount"]),
    ({"amount": "abc"}, ["type_mismatch:amount"]),
    ({"event_time": "yesterday"}, ["type_mismatch:event_time"]),
    ({"is_fraud": "maybe"}, ["type_mismatch:is_fraud"]),
    ({"customer_id": None}, ["missing_required:customer_id"]),
    ({"customer_id": "   "}, ["missing_required:customer_id"]),
    ({"amount": None, "is_fraud": "x"}, ["missing_required:amount", "type_mismatch:is_fraud"]),
    ({"transaction_id": "t-1"}, ["invalid_format:transaction_id"]),
    ({"promo_code": "SPRING"}, ["unexpected_column:promo_code"]),
])
def test_each_flaw_is_a_named_reason(spark, change, reasons):
    out = conform(records(spark, {**GOOD_TXN, **change}), load_contract("transactions")).collect()[0]
    assert out["_reasons"] == reasons


def test_a_malformed_record_has_one_reason_and_keeps_its_text(spark):
    out = conform(records(spark, None), load_contract("transactions")).collect()[0]
    assert out["_reasons"] == ["malformed_record"]
    assert out["_raw_record"] == "garbage"


def test_dates_must_be_full_iso_dates(spark):
    customers = load_contract("customers")
    base = {"customer_id": "C00000001", "first_name": "A", "last_name": "B", "email": "A@B.COM", "country": "us",
            "segment": "Premium", "created_at": "2023-01-01 00:00:00", "updated_at": "2024-01-01T00:00:00+02:00"}
    frame = conform(records(spark, {**base, "date_of_birth": "1990-02-03"},
                            {**base, "customer_id": "C00000002", "date_of_birth": "31/02/1990"},
                            {**base, "customer_id": "C00000003", "date_of_birth": "1990-02-30"}), customers)
    assert_rows(frame, [
        {"customer_id": "C00000001", "email": "a@b.com", "country": "US", "segment": "premium", "_reasons": []},
        {"customer_id": "C00000002", "email": "a@b.com", "country": "US", "segment": "premium",
         "_reasons": ["type_mismatch:date_of_birth"]},
        {"customer_id": "C00000003", "email": "a@b.com", "country": "US", "segment": "premium",
         "_reasons": ["type_mismatch:date_of_birth"]},
    ])
    offset = frame.where("customer_id = 'C00000001'").first()["updated_at"]
    assert offset.isoformat() == "2023-12-31T22:00:00"  # +02:00 normalised to UTC


def test_keep_policy_does_not_quarantine_new_columns(spark):
    doc = {"name": "d", "format": "jsonl", "key": ["id"], "event_time": "ts", "drift": {"new_columns": "keep"},
           "columns": [{"name": "id", "type": "string"}, {"name": "ts", "type": "timestamp"}]}
    out = conform(records(spark, {"id": "1", "ts": "2024-01-01T00:00:00Z", "notes": "x"}),
                  parse_contract(doc, "d.yaml")).collect()[0]
    assert (out["_reasons"], out["_extra_columns"]) == ([], ["notes"])
