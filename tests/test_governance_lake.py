"""Governance on the shared ingested lake: the runs' health metrics under ops/metrics/ (and the
template's alarms and dashboard watching exactly those), and `lakehouse dr restore` opening the
lake's gold tables in the DR region of a moto server over HTTP.

The replica bucket is filled by uploading gold's files as they are: moto stores a replication
configuration but never copies objects (the one boundary stood in for). Their metadata names the
lake's own root (`file:<lake>/gold/`), which plays the primary bucket's part: restore must rewrite
every path under it, as it rewrites `s3://<gold bucket>/` after a real failover.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from pyspark.sql import SparkSession

from infra import monitoring
from infra.settings import DeploySettings
from infra.storage import BootstrapOutputs
from jobs import run_metrics
from jobs.lake import LakeLayout
from jobs.tables import lake_catalog
from pipelines.cli import main as cli
from pipelines.lake_tables import open_glue, open_local
from pipelines.registry import PIPELINES
from tests.moto_endpoint import empty_moto_server
from tests.shared_lake import DAYS, IngestedLake

pytestmark = [pytest.mark.integration]

ACCOUNT = "123456789012"
DR_REGION = "us-west-2"
SETTINGS = DeploySettings(stage="dev", account=ACCOUNT)
REPLICA = SETTINGS.dr_gold_bucket


# -- pipeline-health metrics -------------------------------------------------------------------------
def published(lake: Path) -> list[dict[str, Any]]:
    return [line for line in run_metrics.read_local(lake / "ops") if line["RunId"].startswith("ingestion-")]


def triples(lines: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(metric, Pipeline, Dataset) of every datum published."""
    return {(datum["MetricName"], *(d["Value"] for d in datum["Dimensions"])) for line in lines
            for datum in line["MetricData"]}


def test_each_local_run_appends_its_metrics_to_the_days_file(ingested_lake: IngestedLake) -> None:
    lines = published(ingested_lake.root)
    assert len({line["RunId"] for line in lines}) == DAYS
    files = sorted((ingested_lake.root / "ops" / "metrics").glob("*.jsonl"))
    assert files and all(len(path.stem) == 10 for path in files)  # YYYY-MM-DD.jsonl
    for line in lines:
        assert line["Namespace"] == run_metrics.NAMESPACE
        data = {(d["MetricName"], d["Dimensions"][1]["Value"]): d for d in line["MetricData"]}
        assert data[(run_metrics.RUN_SUCCEEDED, run_metrics.RUN_SCOPE)]["Value"] == 1.0
        assert data[(run_metrics.RUN_FAILED, run_metrics.RUN_SCOPE)]["Value"] == 0.0
        # rows reconcile per dataset, as the manifest says: bronze = silver + quarantined + duplicates
        for dataset in ("customers", "transactions", "support_tickets"):
            bronze, silver, quarantined, duplicates = (data[(metric, dataset)]["Value"] for metric in (
                run_metrics.BRONZE_ROWS, run_metrics.SILVER_ROWS, run_metrics.QUARANTINED_ROWS,
                run_metrics.DUPLICATE_ROWS))
            assert bronze == silver + quarantined + duplicates > 0
        assert data[(run_metrics.QUARANTINED_ROWS, run_metrics.RUN_SCOPE)]["Value"] > 0  # the dirty feed
        assert data[(run_metrics.GOLD_ROWS, "customer_features")]["Value"] > 0
        assert (run_metrics.GATE_FAILED, "silver.customers") in data
        assert all(set(d) == {"MetricName", "Dimensions", "Timestamp", "Value", "Unit"} for d in line["MetricData"])


def test_alarms_and_dashboard_watch_metrics_the_runs_really_publish(ingested_lake: IngestedLake) -> None:
    lines = published(ingested_lake.root)
    sent, names = triples(lines), {triple[0] for triple in triples(lines)}
    bootstrap = BootstrapOutputs(f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k", SETTINGS.bucket_name("artifacts"),
                                 SETTINGS.bucket_name("logs"))
    datasets = ["customers", "support_tickets", "transactions"]
    resources = monitoring.monitoring_resources(SETTINGS, bootstrap, PIPELINES, datasets)
    watched = set()
    for body in resources.values():
        for query in body["Properties"].get("Metrics", []):
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                assert metric["Namespace"] == run_metrics.NAMESPACE
                watched.add((metric["MetricName"], *(d["Value"] for d in metric["Dimensions"])))
    assert watched and {name for name, *_ in watched} <= names
    assert {triple for triple in watched if triple[1] == "ingestion"} <= sent
    dashboard = json.loads(resources[monitoring.DASHBOARD_ID]["Properties"]["DashboardBody"])
    assert monitoring.dashboard_metric_names(dashboard) <= names
    plotted = {(line[1], line[3], line[5]) for widget in dashboard["widgets"]
               for line in widget.get("properties", {}).get("metrics", []) if isinstance(line[0], str)}
    assert {triple for triple in plotted if triple[1] == "ingestion"} <= sent


def test_status_metrics_shows_the_trend_and_plots_it(ingested_lake: IngestedLake, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["status", "--lake-root", str(ingested_lake.root), "--metrics", "--pipeline", "ingestion",
                "--plot", str(tmp_path / "health.png")]) == 0
    out = capsys.readouterr().out.splitlines()
    header = next(line for line in out if line.startswith("run"))
    assert header.split() == ["run", "status", "bronze_in", "silver_out", "quarantined", "quarantined_%",
                              "duplicates", "gold_out", "gates_failed", "seconds"]
    rows = [line for line in out if line.startswith("ingestion-")]
    assert len(rows) == DAYS and all(line.split()[1] == "SUCCEEDED" for line in rows)
    png = (tmp_path / "health.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


# -- DR restore ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dr_endpoint() -> Iterator[str]:
    with empty_moto_server(DR_REGION) as url:
        yield url


def replicate(s3: Any, gold: Path) -> int:
    """Stand-in for S3 replication (moto never performs it): every object of gold, same keys."""
    s3.create_bucket(Bucket=REPLICA, CreateBucketConfiguration={"LocationConstraint": DR_REGION})
    count = 0
    for path in sorted(gold.rglob("*")):
        if path.is_file():
            s3.upload_file(str(path), REPLICA, path.relative_to(gold).as_posix())
            count += 1
    return count


def restore_cli(endpoint: str, gold: Path, *extra: str) -> int:
    return cli(["dr", "restore", "--region", DR_REGION, "--endpoint-url", endpoint, "--stage", "dev",
                "--account", ACCOUNT, "--source-root", f"file:{gold}/", *extra])


@pytest.mark.slow
def test_dr_restore_opens_gold_in_the_dr_region_with_the_same_rows(
        spark: SparkSession, ingested_lake: IngestedLake, dr_endpoint: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    gold = ingested_lake.root / "gold"
    s3 = boto3.client("s3", region_name=DR_REGION, endpoint_url=dr_endpoint)
    assert replicate(s3, gold) > 0
    local = open_local(ingested_lake.root)
    expected = {name.split(".", 1)[1]: local.load(name).scan().to_arrow().num_rows
                for name in local.names() if name.startswith("gold.")}
    assert expected and all(rows > 0 for rows in expected.values())

    assert restore_cli(dr_endpoint, gold) == 0
    printed = capsys.readouterr().out
    assert f"{len(expected)} table(s) readable in {DR_REGION}" in printed

    monkeypatch.setenv("AWS_ENDPOINT_URL", dr_endpoint)
    dr_tables = open_glue(SETTINGS.glue_database, DR_REGION)
    assert dr_tables.names() == sorted(f"gold.{name}" for name in expected)
    for name, rows in expected.items():
        table = dr_tables.load(f"gold.{name}")
        assert table.metadata_location.startswith(f"s3://{REPLICA}/{name}/metadata/"), name
        assert table.scan().to_arrow().num_rows == rows, name
        # nothing the restored table reads is outside the replica
        assert table.location() == f"s3://{REPLICA}/{name}"
        files = [task.file.file_path for task in table.scan().plan_files()]
        assert files and all(path.startswith(f"s3://{REPLICA}/{name}/data/") for path in files), name
        assert all(s.manifest_list.startswith(f"s3://{REPLICA}/") for s in table.metadata.snapshots), name
    # Iceberg's Java reader (Spark, as Glue and Athena-on-Spark use it) opens the rewritten metadata too
    system = spark._jvm.java.lang.System
    credentials = {"aws.accessKeyId": "testing", "aws.secretAccessKey": "testing"}  # the JVM's env predates ours
    for key, value in credentials.items():
        system.setProperty(key, value)
    try:
        lake_catalog(spark, LakeLayout.from_root(f"s3://{REPLICA}"),
                     {"catalog": "glue", "glue_database": SETTINGS.glue_database})
        for name, rows in expected.items():
            assert spark.table(f"lake.{SETTINGS.glue_database}.gold_{name}").count() == rows, name
    finally:
        for key in credentials:
            system.clearProperty(key)
    # the replicated files are left as they were: replication can resume onto them after the failover
    original = next(path for path in sorted((gold / "customer_features" / "metadata").glob("*.metadata.json")))
    stored = s3.get_object(Bucket=REPLICA, Key=f"customer_features/metadata/{original.name}")["Body"].read()
    assert stored == original.read_bytes()


@pytest.mark.slow
def test_dr_restore_refuses_a_table_whose_current_files_have_not_arrived(
        ingested_lake: IngestedLake, dr_endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    gold = ingested_lake.root / "gold"
    s3 = boto3.client("s3", region_name=DR_REGION, endpoint_url=dr_endpoint)
    if REPLICA not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        replicate(s3, gold)
    table = open_local(ingested_lake.root).load("gold.daily_merchant_metrics")
    lagging = next(iter(table.scan().plan_files())).file.file_path
    key = lagging.split(f"{gold}/", 1)[1]
    s3.delete_object(Bucket=REPLICA, Key=key)
    try:
        assert restore_cli(dr_endpoint, gold, "--tables", "daily_merchant_metrics") == 1
    finally:
        s3.upload_file(str(gold / key), REPLICA, key)
    error = capsys.readouterr().err
    assert "daily_merchant_metrics not restored" in error and "have not been replicated yet" in error
    assert key in error
