"""`lakehouse migrate`: a lake written by the previous release (Parquet folders, commit d3ab07c) becomes
Iceberg tables in place, with the rows it held, without a data file copied, and today's jobs carry on."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs import bronze_to_silver, migrate_tables, silver_to_gold
from jobs.lake import LakeLayout
from jobs.migrate_tables import (
    NAME_MAPPING_PROPERTY,
    LegacyTable,
    legacy_layout,
    legacy_tables,
    report_lines,
    run,
    target_schema,
)
from jobs.tables import TABLE_PROPERTIES, lake_catalog, table_exists
from tests.frames import assert_rows, rows, write_table

FIXTURE = Path(__file__).parent / "fixtures" / "lake_d3ab07c"
# What the previous release's `backfill ingestion` wrote for 2024-01-01 and 2024-01-02 (models skipped).
MIGRATED = ("silver.customers", "silver.support_tickets", "silver.transactions", "quarantine.customers",
            "quarantine.support_tickets", "quarantine.transactions", "gold.customer_features",
            "gold.daily_merchant_metrics")
NEW_DATE = "2024-01-03"  # its bronze is in the fixture, never ingested by the previous release


# --- the pure parts -------------------------------------------------------------------------------

def test_only_published_partition_folders_are_registered():
    found = [("year=2024/month=01/day=01/part-0.snappy.parquet", 10),
             ("year=2024/month=01/day=01/part-1.snappy.parquet", 5),
             ("year=2024/month=01/day=02/part-0.snappy.parquet", 7),
             ("year=2024/month=01/day=02.old-1a2b/part-0.snappy.parquet", 3),  # a swap's leftover
             ("_staging/run-9/year=2024/month=01/day=03/part-0.parquet", 4),  # a killed run's staging
             ("year=2024/month=01/part-0.parquet", 2),  # wrong depth
             ("data/year=2024/month=01/day=03/00000-1.parquet", 9),  # Iceberg's own
             ("metadata/snap-1.parquet", 1)]
    layout = legacy_layout("/lake/silver/t", found, ("year", "month", "day"))
    assert [p.name for p in layout.partitions] == ["year=2024/month=01/day=01", "year=2024/month=01/day=02"]
    assert layout.partitions[0].folder == "/lake/silver/t/year=2024/month=01/day=01"
    assert layout.partitions[0].files == ("/lake/silver/t/year=2024/month=01/day=01/part-0.snappy.parquet",
                                          "/lake/silver/t/year=2024/month=01/day=01/part-1.snappy.parquet")
    assert (layout.files, layout.bytes) == (3, 22)
    assert layout.ignored == ("_staging/run-9/year=2024/month=01/day=03/part-0.parquet",
                              "year=2024/month=01/day=02.old-1a2b/part-0.snappy.parquet",
                              "year=2024/month=01/part-0.parquet")


def test_target_schema_types_orders_and_completes_like_todays_job():
    quarantine = next(t for t in legacy_tables(["customers"]) if t.display == "quarantine.customers")
    found = T.StructType([T.StructField("dataset", T.StringType()), T.StructField("ingest_date", T.StringType()),
                          T.StructField("reason", T.StringType(), False)])
    assert target_schema(found, quarantine) == T.StructType([
        T.StructField("dataset", T.StringType()), T.StructField("ingest_date", T.DateType()),
        T.StructField("reason", T.StringType()), T.StructField("source_row", T.LongType()),
        T.StructField("byte_offset", T.LongType())])
    gold = LegacyTable("gold", "g", (("as_of_date", T.DateType()),), "d", ("customer_id", "as_of_date", "n"))
    found = T.StructType([T.StructField("n", T.LongType()), T.StructField("extra", T.LongType()),
                          T.StructField("customer_id", T.StringType()), T.StructField("as_of_date", T.StringType())])
    assert [(f.name, f.dataType) for f in target_schema(found, gold).fields] == [
        ("customer_id", T.StringType()), ("as_of_date", T.DateType()), ("n", T.LongType()), ("extra", T.LongType())]


# --- a lake of the previous release ---------------------------------------------------------------

def _parquet_files(lake: Path) -> dict[str, tuple[int, str]]:
    return {str(p.relative_to(lake)): (p.stat().st_size, hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(lake.rglob("*.parquet"))}


def _old_folder(spark: SparkSession, folder: Path) -> DataFrame:
    """What the previous release's readers saw: the folder read as Parquet, partition values as strings."""
    return spark.read.parquet(str(folder))


def _table_files(spark: SparkSession, identifier: str) -> set[str]:
    return {r[0].removeprefix("file:") for r in spark.sql(f"SELECT file_path FROM {identifier}.files").collect()}


@pytest.mark.integration
def test_migrate_a_lake_of_the_previous_release(spark: SparkSession, tmp_path: Path, monkeypatch):
    lake = tmp_path / "lake"
    shutil.copytree(FIXTURE, lake, ignore=shutil.ignore_patterns("README.md"))
    layout = LakeLayout.from_root(str(lake))
    before = _parquet_files(lake)
    old = {name: _old_folder(spark, lake / name.replace(".", "/")) for name in MIGRATED}
    expected = {name: rows(df) for name, df in old.items()}
    assert all(expected.values())

    # --dry-run: says what it would register, creates nothing
    dry = run(spark, {"lake_root": str(lake), "dry_run": "true", "run_id": "migrate-dry"})
    by_table = {t["table"]: t for t in dry["tables"]}
    assert {t for t, r in by_table.items() if r["outcome"] == "would migrate"} == set(MIGRATED)
    assert all(by_table[name]["rows"] == len(expected[name]) for name in MIGRATED)
    catalog = lake_catalog(spark, layout)
    assert not any(table_exists(spark, catalog.table(*name.split("."))) for name in MIGRATED)

    # a migration killed after creating silver.transactions, before registering its files
    real_data_files = migrate_tables._data_files

    def killed(spark, table, partitions):
        if str(table.name()).endswith("silver.transactions"):
            raise RuntimeError("killed")
        return real_data_files(spark, table, partitions)

    monkeypatch.setattr(migrate_tables, "_data_files", killed)
    with pytest.raises(RuntimeError, match="killed"):
        run(spark, {"lake_root": str(lake), "run_id": "migrate-killed"})
    monkeypatch.undo()
    assert table_exists(spark, catalog.table("silver", "transactions"))

    report = run(spark, {"lake_root": str(lake), "run_id": "migrate-20240104T000000Z"})
    print("\n".join(report_lines(report)))
    by_table = {t["table"]: t for t in report["tables"]}
    assert report["refused"] == []
    done_before = {"silver.customers", "silver.support_tickets"}  # the killed run got that far
    assert {t for t, r in by_table.items() if r["outcome"] == "already migrated"} == done_before
    assert {t for t, r in by_table.items() if r["outcome"] == "migrated"} == set(MIGRATED) - done_before
    assert by_table["gold.training_set"]["outcome"] == "nothing to migrate"  # models were skipped

    # no data file copied, moved, rewritten or added; each table refers to its old files in place
    assert _parquet_files(lake) == before
    for name in MIGRATED:
        ref = catalog.table(*name.split("."))
        old_files = {str(lake / p) for p in before if p.startswith(name.replace(".", "/") + "/")}
        assert _table_files(spark, ref.identifier) == old_files, name
        assert by_table[name]["files"] == len(old_files)
        assert by_table[name]["rows"] == len(expected[name])
        assert by_table[name]["bytes"] == sum(before[p][0] for p in before if str(lake / p) in old_files)

    # the same rows, partition columns typed as today's tables have them
    from pipelines.lake_tables import history, open_local

    tables = open_local(lake)
    for table in legacy_tables(["customers", "support_tickets", "transactions"]):
        if table.display not in MIGRATED:
            continue
        ref = catalog.table(table.layer, table.name)
        migrated = spark.table(ref.identifier)
        columns = old[table.display].columns
        typed = old[table.display].select(
            *[F.col(c).cast(migrated.schema[c].dataType).alias(c) for c in columns])
        assert_rows(migrated, rows(typed), columns)
        # as `ensure_table` creates it for today's job, plus the name mapping the old files need
        metadata = tables.load(table.display).metadata
        properties = dict(metadata.properties)
        mapped = {name for field in json.loads(properties.pop(NAME_MAPPING_PROPERTY)) for name in field["names"]}
        assert mapped == {f.name for f in metadata.schema().fields}
        properties.pop("owner", None)  # Spark's, the user who ran it
        assert properties == {**{k: v for k, v in TABLE_PROPERTIES.items() if k != "format-version"},
                              "comment": table.description}, table.display
        assert metadata.format_version == 2
        assert [(f.name, f.transform.__class__.__name__) for f in metadata.spec().fields] == [
            (c, "IdentityTransform") for c in table.partition_columns]

    # `lakehouse history` names the migration's run
    assert [r["run_id"] for r in history(tables.load("silver.transactions"))] == ["migrate-20240104T000000Z"]

    # again: a no-op
    current = {name: spark.sql(f"SELECT snapshot_id FROM {catalog.table(*name.split('.')).identifier}.refs "
                                f"WHERE name = 'main'").first()[0] for name in MIGRATED}
    again = run(spark, {"lake_root": str(lake), "run_id": "migrate-again"})
    assert {t["table"]: t["outcome"] for t in again["tables"] if t["table"] in MIGRATED} == {
        name: "already migrated" for name in MIGRATED}
    assert all(t["rows"] == len(expected[t["table"]]) for t in again["tables"] if t["table"] in MIGRATED)
    assert current == {name: spark.sql(f"SELECT snapshot_id FROM {catalog.table(*name.split('.')).identifier}.refs "
                                       f"WHERE name = 'main'").first()[0] for name in MIGRATED}
    assert _parquet_files(lake) == before

    # today's jobs run the next date on top, without changing any table's schema (transactions only, to
    # keep the test short: customers and support_tickets go through the same code, and gold reads them)
    touched = ("silver.transactions", "quarantine.transactions", "gold.customer_features",
               "gold.daily_merchant_metrics")
    schemas = {name: spark.table(catalog.table(*name.split(".")).identifier).schema for name in touched}
    bronze_to_silver.run(spark, {"dataset": "transactions", "run_date": NEW_DATE, "lake_root": str(lake),
                                 "run_id": f"ingestion-{NEW_DATE}"})
    silver_to_gold.run(spark, {"run_date": NEW_DATE, "lake_root": str(lake), "run_id": f"ingestion-{NEW_DATE}"})
    for name in touched:
        ref = catalog.table(*name.split("."))
        now = spark.table(ref.identifier).schema
        # every column of the migrated table kept as it was; this release's gold customer_features adds its
        # embedding and feature-set version by schema evolution (appended, nothing else touched)
        assert now.fields[:len(schemas[name].fields)] == schemas[name].fields, name
        added = {field.name for field in now.fields[len(schemas[name].fields):]}
        assert added == ({"customer_embedding", "feature_set_version"} if name == "gold.customer_features"
                         else set()), (name, added)
    transactions = spark.table(catalog.table("silver", "transactions").identifier)
    assert transactions.where("day = '03'").count() > 0
    quarantined = spark.table(catalog.table("quarantine", "transactions").identifier)
    assert {r[0].isoformat() for r in quarantined.select("ingest_date").distinct().collect()} == {
        "2024-01-01", "2024-01-02", NEW_DATE}
    assert transactions.where("day = '01'").count() > 0
    features = spark.table(catalog.table("gold", "customer_features").identifier)
    assert {r[0].isoformat() for r in features.select("as_of_date").distinct().collect()} == {
        "2024-01-01", "2024-01-02", NEW_DATE}
    on_main = [r["run_id"] for r in history(tables.load("silver.transactions")) if r["state"] != "staged"]
    assert on_main == ["migrate-20240104T000000Z", f"ingestion-{NEW_DATE}"]


@pytest.mark.integration
def test_refused_beside_a_table_todays_jobs_wrote_and_skipped_once_its_snapshot_expired(spark: SparkSession,
                                                                                      tmp_path: Path):
    """Old files beside a table a job already wrote: registering them would bring back rows the job
    replaced, so the table is refused, with nothing changed. A migrated table whose migration snapshot
    maintenance has expired since is still recognised as migrated (its files are in it)."""
    lake = tmp_path / "lake"
    for dataset in ("customers", "support_tickets"):
        shutil.copytree(FIXTURE / "quarantine" / dataset, lake / "quarantine" / dataset)
    catalog = lake_catalog(spark, LakeLayout.from_root(str(lake)))
    write_table(spark, lake, "quarantine", "support_tickets",
                spark.createDataFrame([("support_tickets", date(2024, 1, 3))], "dataset string, ingest_date date"),
                ("ingest_date",))
    before = _parquet_files(lake)

    first = run(spark, {"lake_root": str(lake), "run_id": "migrate-1"})

    assert first["refused"] == ["quarantine.support_tickets"]
    refused = next(t for t in first["tables"] if t["table"] == "quarantine.support_tickets")
    assert "written by run(s) test-fixture" in refused["message"] and "2 file(s)" in refused["message"]
    assert _parquet_files(lake) == before
    tickets = catalog.table("quarantine", "support_tickets").identifier
    assert spark.table(tickets).count() == 1

    customers = catalog.table("quarantine", "customers").identifier
    migrated = spark.table(customers).count()
    spark.table(customers).limit(1).writeTo(customers).append()  # a later run's commit
    spark.sql("CALL lake.system.expire_snapshots(table => 'quarantine.customers', "
              "older_than => TIMESTAMP '2999-01-01 00:00:00', retain_last => 1)").collect()
    assert spark.table(customers).count() == migrated + 1

    again = {t["table"]: t for t in run(spark, {"lake_root": str(lake), "run_id": "migrate-2"})["tables"]}
    assert again["quarantine.customers"]["outcome"] == "already migrated"
    assert again["quarantine.support_tickets"]["outcome"] == "refused"
