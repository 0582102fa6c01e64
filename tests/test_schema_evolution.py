"""A column the contract keeps arrives on day 3: the silver table gains it by an Iceberg schema update
(schema version 2), never by rewriting what days 1 and 2 wrote; a value of the wrong type is still a
quarantine reason. `lakehouse describe` shows the versions."""

from __future__ import annotations

import hashlib
import io
from contextlib import redirect_stdout
from pathlib import Path

import pytest
import yaml

from jobs.contracts import contracts_dir
from jobs.lake import LakeLayout
from jobs.tables import lake_catalog
from pipelines import cli
from pipelines.describe_table import describe
from pipelines.lake_tables import open_local
from tests.frames import assert_rows
from tests.test_bronze_to_silver import customer, run_job, silver, write_jsonl

pytestmark = pytest.mark.integration


def day_files(spark, lake: Path, day: str) -> dict[str, str]:
    """Data files of silver.customers' partition for `day`: path -> sha256 of the bytes on disk."""
    ref = lake_catalog(spark, LakeLayout.from_root(str(lake))).table("silver", "customers")
    year, month, day_of_month = day.split("-")
    paths = [r[0] for r in spark.sql(
        f"SELECT file_path FROM {ref.identifier}.files WHERE partition.year = '{year}' "
        f"AND partition.month = '{month}' AND partition.day = '{day_of_month}'").collect()]
    return {p: hashlib.sha256(Path(p.replace("file:", "")).read_bytes()).hexdigest() for p in paths}


@pytest.fixture
def keep_contract(tmp_path, monkeypatch) -> None:
    override = tmp_path / "contracts"
    override.mkdir()
    for source in contracts_dir().glob("*.yaml"):
        doc = yaml.safe_load(source.read_text())
        if doc["name"] == "customers":
            doc["drift"]["new_columns"] = "keep"
        (override / source.name).write_text(yaml.safe_dump(doc))
    monkeypatch.setenv("LAKEHOUSE_CONTRACTS_DIR", str(override))


def test_a_kept_new_column_is_a_schema_update_that_leaves_earlier_files_untouched(spark, tmp_path, keep_contract):
    lake = tmp_path / "lake"
    write_jsonl(lake, "customers", "2024-01-01", [customer("C00000001", "2024-01-01T08:00:00Z"),
                                                  customer("C00000002", "2024-01-01T09:00:00Z")])
    write_jsonl(lake, "customers", "2024-01-02", [customer("C00000003", "2024-01-02T08:00:00Z")])
    run_job(spark, lake, "customers", "2024-01-01", run_id="day-1")
    run_job(spark, lake, "customers", "2024-01-02", run_id="day-2")
    day_1_before = day_files(spark, lake, "2024-01-01")
    write_jsonl(lake, "customers", "2024-01-03", [
        customer("C00000004", "2024-01-03T08:00:00Z", loyalty_tier="gold"),
        customer("C00000005", "2024-01-03T09:00:00Z", loyalty_tier="silver", created_at="last spring")])
    report = run_job(spark, lake, "customers", "2024-01-03", run_id="day-3")

    assert day_1_before and day_files(spark, lake, "2024-01-01") == day_1_before  # same paths, same bytes
    assert_rows(silver(spark, lake, "customers"), [
        {"customer_id": "C00000001", "loyalty_tier": None}, {"customer_id": "C00000002", "loyalty_tier": None},
        {"customer_id": "C00000003", "loyalty_tier": None}, {"customer_id": "C00000004", "loyalty_tier": "gold"}])
    assert any("created_at" in reason for reason in report["quarantined_by_reason"]), report["quarantined_by_reason"]

    info = describe("silver.customers", open_local(lake).load("silver.customers"))
    versions = info["schema_versions"]
    assert [(v["version"], v["added"], v["current"]) for v in versions] == [(1, [], False), (2, ["loyalty_tier"], True)]
    assert versions[0]["first_run"] == "day-1" and versions[1]["first_run"] == "day-3"
    assert "loyalty_tier" in [f["name"] for f in info["schema"]]
    assert info["data_files"]["rows"] == 4
    with redirect_stdout(io.StringIO()) as printed:
        assert cli.main(["describe", "silver.customers", "--lake-root", str(lake)]) == 0
    assert "v2 (id 1) current: added loyalty_tier; first written" in printed.getvalue()
    assert "partition spec 0 (current): identity(year), identity(month), identity(day)" in printed.getvalue()
