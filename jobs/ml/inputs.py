"""Reading what the model's features are built from: silver transactions and customers, and the
gold `customer_features` snapshots. Only the columns the features need are read (never names,
emails, card numbers or IPs), with explicit schemas so partition values stay strings."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.silver_to_gold import SILVER_PARTITION_COLUMNS, SilverTableMissingError, only_event_days, read_silver
from jobs.tables import LakeCatalog, TableRef, current_snapshot, read_table

FEATURES_TABLE = "customer_features"

TRANSACTIONS_SCHEMA = T.StructType([
    T.StructField("transaction_id", T.StringType()),
    T.StructField("customer_id", T.StringType()),
    T.StructField("amount", T.DecimalType(12, 2)),
    T.StructField("merchant_category", T.StringType()),
    T.StructField("channel", T.StringType()),
    T.StructField("event_time", T.TimestampType()),
    T.StructField("is_fraud", T.BooleanType()),
    T.StructField("_processed_at", T.TimestampType()),
    *[T.StructField(name, T.StringType()) for name in SILVER_PARTITION_COLUMNS],
])
CUSTOMERS_SCHEMA = T.StructType([
    T.StructField("customer_id", T.StringType()),
    T.StructField("created_at", T.TimestampType()),
])


class GoldFeaturesMissingError(RuntimeError):
    """The gold customer_features table the model needs has not been built (run ingestion first)."""


class ModelInputs:
    """The tables a model job reads, each pinned to the snapshot current when it is first read.

    `snapshots` (table -> snapshot id) goes into the job report, so a training run names exactly
    what it was trained from and can be re-run against it (`pinned`).
    """

    def __init__(self, spark: SparkSession, catalog: LakeCatalog, pinned: dict[str, int] | None = None):
        self.spark = spark
        self.catalog = catalog
        self.snapshots: dict[str, int] = dict(pinned or {})

    def _snapshot(self, table: TableRef, missing: Callable[[], Exception]) -> int:
        if table.display not in self.snapshots:
            snapshot = current_snapshot(self.spark, table)
            if snapshot is None:
                raise missing()
            self.snapshots[table.display] = snapshot
        return self.snapshots[table.display]

    def _silver(self, name: str, schema: T.StructType) -> DataFrame:
        table = self.catalog.table("silver", name)
        return read_silver(self.spark, table, self._snapshot(table, lambda: SilverTableMissingError(
            f"silver table {table.identifier} ({table.location}) does not exist yet: ingest a date first")), schema)

    def transactions(self, days: Iterable[date]) -> DataFrame:
        """Silver transactions of the given event days only (partition pruning)."""
        return only_event_days(self._silver("transactions", TRANSACTIONS_SCHEMA), days)

    def customers(self) -> DataFrame:
        return self._silver("customers", CUSTOMERS_SCHEMA)

    def customer_features(self, as_of_days: Iterable[date]) -> DataFrame:
        """Gold snapshots for the given as_of days (a day that was never built is simply absent)."""
        table = self.catalog.table("gold", FEATURES_TABLE)
        snapshot = self._snapshot(table, lambda: GoldFeaturesMissingError(
            f"gold {FEATURES_TABLE} ({table.location}) not found: run the ingestion pipeline for these dates first"))
        wanted = [date.fromisoformat(d) for d in sorted({d.isoformat() for d in as_of_days})]
        return read_table(self.spark, table, snapshot).where(F.col("as_of_date").isin(*wanted))


def snapshot_days(customer_features: DataFrame) -> set[date]:
    return {date.fromisoformat(str(row["as_of_date"])[:10])
            for row in customer_features.select("as_of_date").distinct().collect()}
