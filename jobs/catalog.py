"""Register silver and gold tables and their partitions in the AWS Glue Data Catalog.

Pure functions over a boto3 Glue client, so the jobs call them on AWS after publishing a partition
(when they were given `--glue_database`), and tests call them against moto. Every call is
idempotent: it creates what is missing, updates what differs, and leaves the rest untouched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql.types import StructType, TimestampNTZType

PARQUET_STORAGE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                  "Parameters": {"serialization.format": "1"}},
    "Compressed": True,
}
TABLE_PARAMETERS = {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "SNAPPY"}

Column = dict[str, str]


def glue_columns(schema: StructType, exclude: Sequence[str] = ()) -> list[Column]:
    """Spark fields as catalog columns (Hive type names), skipping e.g. the partition columns."""
    columns = []
    for field in schema.fields:
        if field.name in exclude:
            continue
        hive_type = "timestamp" if isinstance(field.dataType, TimestampNTZType) else field.dataType.simpleString()
        columns.append({"Name": field.name, "Type": hive_type})
    return columns


def partition_location(table_location: str, partition_keys: Sequence[str], values: Sequence[str]) -> str:
    """`<table>/year=2024/month=01/day=03/` (values are the zero-padded strings the lake uses)."""
    if len(partition_keys) != len(values):
        raise ValueError(f"{len(values)} partition values for keys {list(partition_keys)}")
    parts = [f"{key}={value}" for key, value in zip(partition_keys, values, strict=True)]
    return "/".join([table_location.rstrip("/"), *parts]) + "/"


def _storage(location: str, columns: Sequence[Column]) -> dict[str, Any]:
    return {**PARQUET_STORAGE, "Location": location, "Columns": [dict(column) for column in columns]}


def ensure_database(glue_client: Any, database: str, description: str = "") -> str:
    """Create the database if missing; returns "created" or "unchanged"."""
    try:
        glue_client.get_database(Name=database)
        return "unchanged"
    except glue_client.exceptions.EntityNotFoundException:
        glue_client.create_database(DatabaseInput={"Name": database, "Description": description})
        return "created"


def ensure_table(glue_client: Any, database: str, table: str, location: str, columns: Sequence[Column],
                 partition_keys: Sequence[str] = (), description: str = "") -> str:
    """Create or update an external Parquet table; returns "created", "updated" or "unchanged".

    Partition keys are strings: the lake writes zero-padded `year=2024/month=01/day=03` folders.
    """
    table_input = {
        "Name": table,
        "Description": description,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(TABLE_PARAMETERS),
        "PartitionKeys": [{"Name": key, "Type": "string"} for key in partition_keys],
        "StorageDescriptor": _storage(location, columns),
    }
    try:
        current = glue_client.get_table(DatabaseName=database, Name=table)["Table"]
    except glue_client.exceptions.EntityNotFoundException:
        glue_client.create_table(DatabaseName=database, TableInput=table_input)
        return "created"
    unchanged = (
        current.get("StorageDescriptor", {}).get("Location") == location
        and current.get("StorageDescriptor", {}).get("Columns", []) == table_input["StorageDescriptor"]["Columns"]
        and current.get("PartitionKeys", []) == table_input["PartitionKeys"]
    )
    if unchanged:
        return "unchanged"
    glue_client.update_table(DatabaseName=database, TableInput=table_input)
    return "updated"


def register_partition(glue_client: Any, database: str, table: str, location: str,
                       partition_values: Sequence[str] | Mapping[str, str], columns: Sequence[Column]) -> str:
    """Create or update one partition; returns "created", "updated" or "unchanged".

    `partition_values` are in the table's partition-key order (a mapping is ordered by those keys).
    """
    if isinstance(partition_values, Mapping):
        keys = [key["Name"] for key in glue_client.get_table(DatabaseName=database, Name=table)["Table"]
                .get("PartitionKeys", [])]
        missing = [key for key in keys if key not in partition_values]
        if missing:
            raise ValueError(f"partition values for {table} lack {missing}")
        values = [str(partition_values[key]) for key in keys]
    else:
        values = [str(value) for value in partition_values]
    partition_input = {"Values": values, "StorageDescriptor": _storage(location, columns)}
    try:
        current = glue_client.get_partition(DatabaseName=database, TableName=table,
                                            PartitionValues=values)["Partition"]
    except glue_client.exceptions.EntityNotFoundException:
        try:
            glue_client.create_partition(DatabaseName=database, TableName=table,
                                         PartitionInput=partition_input)
            return "created"
        except glue_client.exceptions.AlreadyExistsException:  # a concurrent run registered it first
            current = {}
    descriptor = current.get("StorageDescriptor", {})
    if descriptor.get("Location") == location and descriptor.get("Columns", []) == list(columns):
        return "unchanged"
    glue_client.update_partition(DatabaseName=database, TableName=table, PartitionValueList=values,
                                 PartitionInput=partition_input)
    return "updated"


def register_published(glue_client: Any, database: str, table: str, table_location: str, schema: StructType,
                       partition_keys: Sequence[str], partitions: Sequence[Sequence[str]]) -> dict[str, str]:
    """After a job publishes: make sure the table exists and register each published partition.

    Returns what happened to each, e.g. {"table": "created", "year=2024/month=01/day=03": "created"}.
    """
    columns = glue_columns(schema, exclude=partition_keys)
    outcome = {"database": ensure_database(glue_client, database),
               "table": ensure_table(glue_client, database, table, table_location, columns, partition_keys)}
    for values in partitions:
        location = partition_location(table_location, partition_keys, values)
        name = "/".join(f"{k}={v}" for k, v in zip(partition_keys, values, strict=True))
        outcome[name] = register_partition(glue_client, database, table, location, list(values), columns)
    return outcome
