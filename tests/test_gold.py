"""Gold transforms on small hand-made silver frames: windows, versions, encodings, metrics."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.testing import assertDataFrameEqual

from jobs.gold import (
    COUNTRIES,
    FEATURE_COLUMNS,
    METRIC_COLUMNS,
    SEGMENT_COLUMNS,
    customer_features,
    daily_merchant_metrics,
    daily_merchant_metrics_for_days,
    late_event_days,
)
from jobs.gold.money import amount_sum, rounded_mean

AS_OF = date(2024, 1, 31)

TXN_SCHEMA = (
    "transaction_id string, customer_id string, card_number string, amount string, merchant_id string, "
    "merchant_category string, event_time string, ip_address string, is_fraud boolean, "
    "_processed_at string, _ingest_date string"
)
CUSTOMER_SCHEMA = (
    "customer_id string, first_name string, last_name string, email string, phone string, ssn string, "
    "date_of_birth string, street string, segment string, country string, created_at string, "
    "updated_at string, _processed_at string"
)
IDENTIFIER_COLUMNS = {"first_name", "last_name", "email", "phone", "ssn", "street", "card_number",
                      "ip_address", "date_of_birth", "postal_code"}


def txn(transaction_id: str, customer_id: str, amount: str, event_time: str, *, merchant: str = "M000001",
        category: str = "grocery", is_fraud: bool | None = False, processed_at: str = "2024-02-01 03:00:00",
        ingest_date: str | None = None) -> tuple[Any, ...]:
    return (transaction_id, customer_id, "4111111111111111", amount, merchant, category, event_time,
            "203.0.113.9", is_fraud, processed_at, ingest_date or event_time[:10])


def transactions_df(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    """Silver-typed transactions; timestamps are parsed by Spark in the session time zone (UTC)."""
    raw = spark.createDataFrame(rows, TXN_SCHEMA)
    return raw.select(
        *[c for c in raw.columns if c not in {"amount", "event_time", "_processed_at", "_ingest_date"}],
        F.col("amount").cast("decimal(12,2)").alias("amount"),
        F.col("event_time").cast("timestamp").alias("event_time"),
        F.col("_processed_at").cast("timestamp").alias("_processed_at"),
        F.col("_ingest_date").cast("date").alias("_ingest_date"),
    )


def customer(customer_id: str, segment: str | None, country: str | None, created_at: str,
             updated_at: str, processed_at: str = "2024-02-01 03:00:00") -> tuple[Any, ...]:
    return (customer_id, "Ada", "Lovelace", f"{customer_id.lower()}@example.com", "+1 555 0100",
            "078-05-1120", "1990-05-17", "1 Main St", segment, country, created_at, updated_at, processed_at)


def customers_df(spark: SparkSession, rows: list[tuple[Any, ...]]) -> DataFrame:
    raw = spark.createDataFrame(rows, CUSTOMER_SCHEMA)
    return raw.withColumns({
        "date_of_birth": F.col("date_of_birth").cast("date"),
        "created_at": F.col("created_at").cast("timestamp"),
        "updated_at": F.col("updated_at").cast("timestamp"),
        "_processed_at": F.col("_processed_at").cast("timestamp"),
    })


def rows_by(df: DataFrame, key: str, columns: list[str] | None = None) -> list[dict[str, Any]]:
    """Sorted plain dicts, so a failing comparison prints a readable diff."""
    selected = df.select(*(columns or df.columns))
    return sorted((r.asDict() for r in selected.collect()), key=lambda r: str(r[key]))


def features_for(spark: SparkSession, txns: list[tuple[Any, ...]], custs: list[tuple[Any, ...]],
                 as_of: date = AS_OF) -> DataFrame:
    return customer_features(transactions_df(spark, txns), customers_df(spark, custs), as_of)


ACTIVITY = ["customer_id", "txn_count_7d", "txn_amount_7d", "txn_count_30d", "txn_amount_30d",
            "avg_amount_30d", "distinct_merchants_30d", "days_since_last_txn"]


# --- customer_features: windows ------------------------------------------------------------------

def test_windows_cover_whole_days_and_never_the_future(spark: SparkSession) -> None:
    custs = [customer(c, "consumer", "US", "2023-01-01 00:00:00", "2023-01-01 00:00:00")
             for c in ("C00000001", "C00000002", "C00000003")]
    txns = [
        txn("T000000000001", "C00000001", "1.00", "2024-01-31 23:59:59", merchant="M000001"),  # as_of, last second
        txn("T000000000002", "C00000001", "2.00", "2024-01-25 00:00:00", merchant="M000002"),  # 6 days before
        txn("T000000000003", "C00000001", "4.00", "2024-01-24 23:59:59", merchant="M000002"),  # 7 days before
        txn("T000000000004", "C00000001", "8.00", "2024-01-02 00:00:00", merchant="M000003"),  # 29 days before
        txn("T000000000005", "C00000001", "16.00", "2024-01-01 23:59:59", merchant="M000004"),  # 30 days before
        txn("T000000000006", "C00000001", "32.00", "2024-02-01 00:00:00", merchant="M000005"),  # future
        txn("T000000000007", "C00000002", "5.00", "2023-12-17 12:00:00"),  # 45 days before only
        txn("T000000000008", "C00000003", "5.00", "2024-02-02 12:00:00"),  # future only
    ]
    result = rows_by(features_for(spark, txns, custs), "customer_id", ACTIVITY)
    assert result == [
        {"customer_id": "C00000001", "txn_count_7d": 2, "txn_amount_7d": Decimal("3.00"),
         "txn_count_30d": 4, "txn_amount_30d": Decimal("15.00"), "avg_amount_30d": Decimal("3.75"),
         "distinct_merchants_30d": 3, "days_since_last_txn": 0},
        {"customer_id": "C00000002", "txn_count_7d": 0, "txn_amount_7d": Decimal("0.00"),
         "txn_count_30d": 0, "txn_amount_30d": Decimal("0.00"), "avg_amount_30d": None,
         "distinct_merchants_30d": 0, "days_since_last_txn": 45},
        {"customer_id": "C00000003", "txn_count_7d": 0, "txn_amount_7d": Decimal("0.00"),
         "txn_count_30d": 0, "txn_amount_30d": Decimal("0.00"), "avg_amount_30d": None,
         "distinct_merchants_30d": 0, "days_since_last_txn": None},
    ]


def test_customer_without_transactions_gets_zeros_not_nulls(spark: SparkSession) -> None:
    custs = [customer("C00000009", "premium", "GB", "2024-01-01 08:00:00", "2024-01-01 08:00:00")]
    txns = [txn("T000000000001", "C00000001", "9.99", "2024-01-30 10:00:00")]  # someone else's
    [row] = features_for(spark, txns, custs).collect()
    assert {c: row[c] for c in ACTIVITY} == {
        "customer_id": "C00000009", "txn_count_7d": 0, "txn_amount_7d": Decimal("0.00"),
        "txn_count_30d": 0, "txn_amount_30d": Decimal("0.00"), "avg_amount_30d": None,
        "distinct_merchants_30d": 0, "days_since_last_txn": None,
    }
    assert row["tenure_days"] == 30


def test_a_redelivered_transaction_counts_once_with_its_latest_version(spark: SparkSession) -> None:
    custs = [customer("C00000001", "consumer", "US", "2023-01-01 00:00:00", "2023-01-01 00:00:00")]
    txns = [
        txn("T00000000000A", "C00000001", "5.00", "2024-01-30 10:00:00", processed_at="2024-01-31 01:00:00"),
        txn("T00000000000A", "C00000001", "7.00", "2024-01-30 10:00:00", processed_at="2024-02-01 01:00:00"),
    ]
    [row] = features_for(spark, txns, custs).collect()
    assert (row["txn_count_7d"], row["txn_amount_7d"]) == (1, Decimal("7.00"))


# --- customer_features: which customers, which version ---------------------------------------------

def test_latest_version_known_on_the_day_is_used_and_later_customers_are_left_out(
        spark: SparkSession) -> None:
    custs = [
        customer("C00000001", "consumer", "US", "2023-01-31 09:00:00", "2024-01-10 00:00:00"),
        customer("C00000001", "premium", "GB", "2023-01-31 09:00:00", "2024-01-31 23:59:59"),
        customer("C00000001", "enterprise", "DE", "2023-01-31 09:00:00", "2024-02-05 00:00:00"),  # after as_of
        # silver only holds a version updated after as_of: still known (created before), nearest version
        customer("C00000002", "small_business", "FR", "2024-01-05 00:00:00", "2024-02-10 00:00:00"),
        customer("C00000002", "enterprise", "FR", "2024-01-05 00:00:00", "2024-02-20 00:00:00"),
        customer("C00000003", "consumer", "US", "2024-02-01 00:00:00", "2024-02-01 00:00:00"),  # not yet known
        customer("C00000004", "consumer", "US", "2024-01-31 23:59:59", "2024-01-31 23:59:59"),  # created on as_of
    ]
    result = rows_by(features_for(spark, [], custs), "customer_id",
                     ["customer_id", "as_of_date", "segment", "country", "tenure_days"])
    assert result == [
        {"customer_id": "C00000001", "as_of_date": AS_OF, "segment": "premium", "country": "GB",
         "tenure_days": 365},
        {"customer_id": "C00000002", "as_of_date": AS_OF, "segment": "small_business", "country": "FR",
         "tenure_days": 26},
        {"customer_id": "C00000004", "as_of_date": AS_OF, "segment": "consumer", "country": "US",
         "tenure_days": 0},
    ]


def test_same_updated_at_is_settled_by_the_latest_processed_version(spark: SparkSession) -> None:
    custs = [
        customer("C00000001", "consumer", "US", "2023-01-01 00:00:00", "2024-01-10 00:00:00",
                 processed_at="2024-01-11 02:00:00"),
        customer("C00000001", "premium", "US", "2023-01-01 00:00:00", "2024-01-10 00:00:00",
                 processed_at="2024-01-12 02:00:00"),
    ]
    assert [r["segment"] for r in features_for(spark, [], custs).collect()] == ["premium"]


# --- customer_features: encodings and shape --------------------------------------------------------

def test_country_vocabulary_is_pinned() -> None:
    """Changing an existing index silently changes every model's input: append, never reorder."""
    assert {c: i for i, c in enumerate(COUNTRIES)} == {
        "AU": 0, "CA": 1, "DE": 2, "ES": 3, "FR": 4, "GB": 5, "IE": 6, "IT": 7, "NL": 8, "US": 9}
    assert SEGMENT_COLUMNS == ("segment_consumer", "segment_premium", "segment_small_business",
                               "segment_enterprise")


def test_encodings_are_complete_and_do_not_depend_on_the_data(spark: SparkSession) -> None:
    created = "2023-01-01 00:00:00"
    custs = [
        customer("C00000001", "premium", "US", created, created),
        customer("C00000002", " Small_Business ", "gb", created, created),  # normalised before encoding
        customer("C00000003", "vip", "ZZ", created, created),  # outside the allowed values
        customer("C00000004", None, None, created, created),
    ]
    columns = ["customer_id", "segment", "country", *SEGMENT_COLUMNS, "country_index"]
    assert rows_by(features_for(spark, [], custs), "customer_id", columns) == [
        {"customer_id": "C00000001", "segment": "premium", "country": "US", "segment_consumer": 0,
         "segment_premium": 1, "segment_small_business": 0, "segment_enterprise": 0, "country_index": 9},
        {"customer_id": "C00000002", "segment": "small_business", "country": "GB", "segment_consumer": 0,
         "segment_premium": 0, "segment_small_business": 1, "segment_enterprise": 0, "country_index": 5},
        {"customer_id": "C00000003", "segment": "vip", "country": "ZZ", "segment_consumer": 0,
         "segment_premium": 0, "segment_small_business": 0, "segment_enterprise": 0, "country_index": -1},
        {"customer_id": "C00000004", "segment": None, "country": None, "segment_consumer": 0,
         "segment_premium": 0, "segment_small_business": 0, "segment_enterprise": 0, "country_index": -1},
    ]
    # A day whose data holds a single value still gets every column, with the same index.
    only_au = features_for(spark, [], [customer("C00000005", "consumer", "AU", created, created)])
    [row] = only_au.collect()
    assert set(SEGMENT_COLUMNS) <= set(only_au.columns)
    assert (row["segment_consumer"], row["country_index"]) == (1, 0)


def test_features_have_the_contract_columns_and_no_identifiers(spark: SparkSession) -> None:
    custs = [customer("C00000001", "consumer", "US", "2023-01-01 00:00:00", "2023-01-01 00:00:00")]
    txns = [txn("T000000000001", "C00000001", "12.50", "2024-01-30 10:00:00")]
    features = features_for(spark, txns, custs)
    assert tuple(features.columns) == FEATURE_COLUMNS
    assert not IDENTIFIER_COLUMNS & set(features.columns)
    identifier_values = {"Ada", "Lovelace", "c00000001@example.com", "+1 555 0100", "078-05-1120",
                         "1 Main St", "4111111111111111", "203.0.113.9"}
    [row] = features.collect()
    assert not identifier_values & {str(v) for v in row.asDict().values()}
    types = {f.name: f.dataType for f in features.schema.fields}
    assert types["as_of_date"] == T.DateType()
    assert types["txn_amount_7d"] == types["txn_amount_30d"] == T.DecimalType(18, 2)
    assert types["avg_amount_30d"] == T.DecimalType(12, 2)
    assert types["txn_count_7d"] == types["txn_count_30d"] == types["distinct_merchants_30d"] == T.LongType()
    assert {types[c] for c in (*SEGMENT_COLUMNS, "country_index")} == {T.IntegerType()}


# --- daily_merchant_metrics -----------------------------------------------------------------------

METRICS_SCHEMA = (
    "event_date date, merchant_category string, txn_count long, total_amount decimal(18,2), "
    "avg_amount decimal(12,2), fraud_count long, fraud_rate double, distinct_customers long"
)


def test_daily_merchant_metrics_per_category(spark: SparkSession) -> None:
    txns = transactions_df(spark, [
        txn("T000000000001", "C00000001", "10.00", "2024-01-31 00:00:00", category="grocery", is_fraud=True),
        txn("T000000000002", "C00000002", "10.01", "2024-01-31 12:00:00", category="grocery", is_fraud=None),
        txn("T000000000003", "C00000001", "10.01", "2024-01-31 23:59:59", category="grocery", is_fraud=False),
        txn("T000000000004", "C00000003", "0.01", "2024-01-31 08:00:00", category="travel", is_fraud=False),
        txn("T000000000005", "C00000003", "0.04", "2024-01-31 09:00:00", category="travel", is_fraud=True),
        txn("T000000000006", "C00000004", "99.00", "2024-01-30 23:59:59", category="grocery"),  # day before
        txn("T000000000007", "C00000004", "99.00", "2024-02-01 00:00:00", category="grocery"),  # day after
        txn("T000000000003", "C00000001", "10.01", "2024-01-31 23:59:59", category="grocery",  # redelivered
            is_fraud=False, processed_at="2024-02-02 03:00:00"),
    ])
    expected = spark.createDataFrame([
        # 30.02 / 3 = 10.00666… → 10.01; one fraud, the unlabelled row counts as not fraud
        (AS_OF, "grocery", 3, Decimal("30.02"), Decimal("10.01"), 1, 1 / 3, 2),
        # 0.05 / 2 = 0.025 → 0.03 (half-up; half-even would give 0.02)
        (AS_OF, "travel", 2, Decimal("0.05"), Decimal("0.03"), 1, 0.5, 1),
    ], METRICS_SCHEMA)
    result = daily_merchant_metrics(txns, AS_OF)
    assert tuple(result.columns) == METRIC_COLUMNS
    assertDataFrameEqual(result, expected, checkRowOrder=False)


def test_fraud_rate_stays_within_zero_and_one(spark: SparkSession) -> None:
    txns = transactions_df(spark, [
        txn("T000000000001", "C00000001", "1.00", "2024-01-31 01:00:00", category="fuel", is_fraud=True),
        txn("T000000000002", "C00000001", "1.00", "2024-01-31 02:00:00", category="fuel", is_fraud=True),
        txn("T000000000003", "C00000001", "1.00", "2024-01-31 03:00:00", category="health", is_fraud=None),
    ])
    rates = {r["merchant_category"]: r["fraud_rate"] for r in daily_merchant_metrics(txns, AS_OF).collect()}
    assert rates == {"fuel": 1.0, "health": 0.0}


def test_metrics_for_several_days_and_for_a_day_without_transactions(spark: SparkSession) -> None:
    txns = transactions_df(spark, [
        txn("T000000000001", "C00000001", "1.00", "2024-01-29 01:00:00"),
        txn("T000000000002", "C00000001", "3.00", "2024-01-31 01:00:00"),
        txn("T000000000003", "C00000001", "5.00", "2024-01-30 01:00:00"),  # not asked for
    ])
    several = daily_merchant_metrics_for_days(txns, [date(2024, 1, 29), AS_OF])
    assert rows_by(several, "event_date", ["event_date", "total_amount"]) == [
        {"event_date": date(2024, 1, 29), "total_amount": Decimal("1.00")},
        {"event_date": AS_OF, "total_amount": Decimal("3.00")},
    ]
    assert daily_merchant_metrics(txns, date(2024, 1, 1)).count() == 0


# --- building blocks -----------------------------------------------------------------------------

def test_rounded_mean_rounds_once_half_up(spark: SparkSession) -> None:
    # 10000.00 / 2000001 = 0.0049999975…: rounding to 6 places first (as avg() does) would give 0.01.
    row = spark.range(1).select(
        rounded_mean(F.lit(Decimal("10000.00")).cast("decimal(18,2)"), F.lit(2000001)).alias("tiny"),
        rounded_mean(F.lit(Decimal("0.05")).cast("decimal(18,2)"), F.lit(2)).alias("half"),
        rounded_mean(F.lit(Decimal("0.05")).cast("decimal(18,2)"), F.lit(0)).alias("no_rows"),
    ).first()
    assert row is not None
    assert (row["tiny"], row["half"], row["no_rows"]) == (Decimal("0.00"), Decimal("0.03"), None)


def test_amount_sum_of_nothing_is_zero(spark: SparkSession) -> None:
    empty = spark.createDataFrame([], "amount decimal(12,2)")
    assert empty.agg(amount_sum(F.col("amount")).alias("total")).first()["total"] == Decimal("0.00")


def test_late_event_days_are_earlier_days_ingested_on_the_run_date(spark: SparkSession) -> None:
    txns = transactions_df(spark, [
        txn("T000000000001", "C00000001", "1.00", "2024-01-29 10:00:00", ingest_date="2024-01-31"),
        txn("T000000000002", "C00000001", "1.00", "2024-01-29 11:00:00", ingest_date="2024-01-31"),
        txn("T000000000003", "C00000001", "1.00", "2024-01-31 10:00:00", ingest_date="2024-01-31"),
        txn("T000000000004", "C00000001", "1.00", "2024-01-28 10:00:00", ingest_date="2024-01-30"),
    ])
    assert [r["event_date"] for r in late_event_days(txns, AS_OF).collect()] == [date(2024, 1, 29)]
    assert late_event_days(txns.drop("_ingest_date"), AS_OF).count() == 0


@pytest.mark.parametrize("days", [[]])
def test_metrics_need_a_day(spark: SparkSession, days: list[date]) -> None:
    with pytest.raises(ValueError, match="at least one day"):
        daily_merchant_metrics_for_days(transactions_df(spark, []), days)
