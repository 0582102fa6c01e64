"""jobs.catalog against moto's Glue Data Catalog (in-process): tables and partitions, idempotently."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pyspark.sql.types import (
    BooleanType,
    DateType,
    DecimalType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)

from jobs.catalog import ensure_database, ensure_table, glue_columns, partition_location, register_partition

pytestmark = pytest.mark.integration

DATABASE = "lakehouse_dev"
TABLE = "silver_transactions"
LOCATION = "s3://lakehouse-dev-silver-123456789012/transactions"
SCHEMA = StructType([
    StructField("transaction_id", StringType()),
    StructField("amount", DecimalType(12, 2)),
    StructField("event_time", TimestampType()),
    StructField("is_fraud", BooleanType()),
    StructField("_ingest_date", DateType()),
    StructField("year", StringType()),
    StructField("month", StringType()),
    StructField("day", StringType()),
])
PARTITION_KEYS = ("year", "month", "day")


@pytest.fixture()
def glue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("glue", region_name="us-east-1")
        assert ensure_database(client, DATABASE) == "created"
        yield client


def test_glue_columns_use_hive_types_and_skip_partition_columns() -> None:
    columns = glue_columns(SCHEMA, exclude=PARTITION_KEYS)
    assert columns == [
        {"Name": "transaction_id", "Type": "string"},
        {"Name": "amount", "Type": "decimal(12,2)"},
        {"Name": "event_time", "Type": "timestamp"},
        {"Name": "is_fraud", "Type": "boolean"},
        {"Name": "_ingest_date", "Type": "date"},
    ]
    ntz = StructType([StructField("t", TimestampNTZType()), StructField("n", LongType())])
    assert glue_columns(ntz) == [{"Name": "t", "Type": "timestamp"}, {"Name": "n", "Type": "bigint"}]


def test_partition_location_is_zero_padded_hive_style() -> None:
    assert partition_location(LOCATION + "/", PARTITION_KEYS, ["2024", "01", "03"]) == \
        f"{LOCATION}/year=2024/month=01/day=03/"
    with pytest.raises(ValueError):
        partition_location(LOCATION, PARTITION_KEYS, ["2024"])


def test_ensure_table_creates_then_leaves_alone_then_updates(glue: Any) -> None:
    columns = glue_columns(SCHEMA, exclude=PARTITION_KEYS)
    assert ensure_table(glue, DATABASE, TABLE, LOCATION, columns, PARTITION_KEYS) == "created"
    assert ensure_table(glue, DATABASE, TABLE, LOCATION, columns, PARTITION_KEYS) == "unchanged"
    table = glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]
    assert [key["Name"] for key in table["PartitionKeys"]] == list(PARTITION_KEYS)
    assert {key["Type"] for key in table["PartitionKeys"]} == {"string"}
    assert table["StorageDescriptor"]["Location"] == LOCATION
    assert table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert table["Parameters"]["classification"] == "parquet"

    wider = [*columns, {"Name": "channel", "Type": "string"}]
    assert ensure_table(glue, DATABASE, TABLE, LOCATION, wider, PARTITION_KEYS) == "updated"
    stored = glue.get_table(DatabaseName=DATABASE, Name=TABLE)["Table"]["StorageDescriptor"]["Columns"]
    assert [column["Name"] for column in stored][-1] == "channel"
    assert ensure_database(glue, DATABASE) == "unchanged"


def test_register_partition_is_idempotent(glue: Any) -> None:
    columns = glue_columns(SCHEMA, exclude=PARTITION_KEYS)
    ensure_table(glue, DATABASE, TABLE, LOCATION, columns, PARTITION_KEYS)
    location = partition_location(LOCATION, PARTITION_KEYS, ["2024", "01", "03"])
    assert register_partition(glue, DATABASE, TABLE, location, ["2024", "01", "03"], columns) == "created"
    assert register_partition(glue, DATABASE, TABLE, location, ["2024", "01", "03"], columns) == "unchanged"
    # A mapping is ordered by the table's partition keys, whatever its own order.
    by_name = {"day": "03", "year": "2024", "month": "01"}
    assert register_partition(glue, DATABASE, TABLE, location, by_name, columns) == "unchanged"
    moved = location.replace("/transactions/", "/transactions_v2/")
    assert register_partition(glue, DATABASE, TABLE, moved, by_name, columns) == "updated"
    partition = glue.get_partition(DatabaseName=DATABASE, TableName=TABLE,
                                   PartitionValues=["2024", "01", "03"])["Partition"]
    assert partition["StorageDescriptor"]["Location"] == moved
    assert register_partition(glue, DATABASE, TABLE, partition_location(LOCATION, PARTITION_KEYS,
                                                                          ["2024", "01", "04"]),
                              ["2024", "01", "04"], columns) == "created"
    values = sorted(p["Values"] for p in glue.get_partitions(DatabaseName=DATABASE, TableName=TABLE)["Partitions"])
    assert values == [["2024", "01", "03"], ["2024", "01", "04"]]
    with pytest.raises(ValueError, match="lack"):
        register_partition(glue, DATABASE, TABLE, location, {"year": "2024"}, columns)
