"""The Glue Data Catalog path, against a moto server over HTTP: bronze_to_silver run as a separate
process with `--catalog glue`, its tables in S3 (Iceberg's S3FileIO) and registered in Glue as Iceberg.

moto stands in for S3 and Glue (the boundary we cannot reach here); Spark, Iceberg's GlueCatalog and
S3FileIO, and pyiceberg are real. A reader polling during a run sees the old snapshot or the new one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from pipelines.lake_tables import history, open_glue
from pipelines.synthetic import generate

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
DATABASE = "lakehouse_test"
SILVER, BRONZE = "lh-test-silver", "lh-test-bronze"
REGION = "us-east-1"


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory) -> str:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name=REGION, aws_access_key_id="testing",
                      aws_secret_access_key="testing")
    for bucket in (SILVER, BRONZE):
        s3.create_bucket(Bucket=bucket)
    yield url
    requests.post(f"{url}/moto-api/reset", timeout=30)  # moto's state is process-wide: leave none behind
    server.stop()


@pytest.fixture
def aws_env(moto_url, monkeypatch) -> dict[str, str]:
    env = {"AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def job(lake: Path, day: str, run_id: str) -> list[str]:
    return [sys.executable, "-m", "jobs.bronze_to_silver", "--dataset", "customers", "--run_date", day,
            "--run_id", run_id, "--bronze_root", str(lake / "bronze"), "--ops_root", str(lake / "ops"),
            "--silver_root", f"s3://{SILVER}", "--quarantine_root", f"s3://{BRONZE}/quarantine",
            "--catalog", "glue", "--glue_database", DATABASE]


def run_job(lake: Path, day: str, run_id: str) -> dict:
    done = subprocess.run(job(lake, day, run_id), cwd=REPO, capture_output=True, text=True, timeout=900,
                          env=os.environ.copy())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-4000:]
    report = lake / "ops" / "runs" / "ingestion" / f"run_date={day}" / run_id / "bronze_to_silver-customers.json"
    return json.loads(report.read_text())


def test_a_run_commits_once_per_table_to_glue_registered_iceberg_tables_in_s3(aws_env, tmp_path):
    lake = tmp_path / "lake"
    generate(lake, date(2024, 1, 1), 2, 150, seed=3, dirty=True)
    first = run_job(lake, "2024-01-01", "day-1")

    glue = boto3.client("glue", region_name=REGION)
    for name in ("silver_customers", "quarantine_customers"):
        table = glue.get_table(DatabaseName=DATABASE, Name=name)["Table"]
        assert table["Parameters"]["table_type"].upper() == "ICEBERG", table["Parameters"]
        assert table["Parameters"]["metadata_location"].startswith("s3://"), table["Parameters"]
    assert glue.get_table(DatabaseName=DATABASE, Name="silver_customers")["Table"]["StorageDescriptor"][
        "Location"].rstrip("/") == f"s3://{SILVER}/customers"
    objects = boto3.client("s3").list_objects_v2(Bucket=SILVER, Prefix="customers/data/year=")["KeyCount"]
    assert objects > 0  # data files under <table>/data/year=/month=/day=

    # A data scientist on AWS: the table as the Glue catalog describes it, through awswrangler.
    import awswrangler as wr

    columns = wr.catalog.get_table_types(database=DATABASE, table="silver_customers")
    assert {"customer_id", "year", "month", "day", "_run_id"} <= set(columns)
    assert wr.catalog.get_table_parameters(database=DATABASE, table="silver_customers")["table_type"].upper() \
        == "ICEBERG"

    tables = open_glue(DATABASE, REGION)
    silver = tables.load("silver.customers")
    after_first = silver.metadata.current_snapshot_id
    assert first["tables"]["silver.customers"]["snapshot_after"] == after_first
    assert len(silver.scan().to_arrow()) == first["silver_rows"]

    # Day 2, with a reader polling the table through the Glue catalog the whole time.
    process = subprocess.Popen(job(lake, "2024-01-02", "day-2"), cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    seen: dict[int | None, int] = {}
    while process.poll() is None:
        table = open_glue(DATABASE, REGION).load("silver.customers")
        snapshot = table.metadata.current_snapshot_id
        seen.setdefault(snapshot, len(table.scan(snapshot_id=snapshot).to_arrow()))
        time.sleep(0.2)
    output = process.communicate()[0]
    assert process.returncode == 0, output[-4000:]
    second = json.loads((lake / "ops" / "runs" / "ingestion" / "run_date=2024-01-02" / "day-2"
                         / "bronze_to_silver-customers.json").read_text())
    final = open_glue(DATABASE, REGION).load("silver.customers")
    counts = {after_first: len(silver.scan(snapshot_id=after_first).to_arrow()),
              final.metadata.current_snapshot_id: len(final.scan().to_arrow())}
    assert set(seen) <= set(counts), "a reader saw a snapshot that was neither before nor after the run"
    assert all(seen[s] == counts[s] for s in seen)  # and each snapshot whole
    published = [row["run_id"] for row in history(final) if row["state"] in ("published", "current")]
    assert published == ["day-1", "day-2"]  # one commit per run
    assert second["tables"]["silver.customers"]["snapshot_before"] == after_first
