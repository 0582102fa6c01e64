"""On AWS the ops root is an S3 prefix: results and Data Docs go there (moto stands in for S3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from pyspark.sql import SparkSession

from jobs.quality import build_data_docs, quality_table, run_quality_gate

pytestmark = pytest.mark.integration
BUCKET = "lakehouse-ops-test"
SUITE = {"name": "silver.orders", "expectations": [
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "status", "value_set": ["new"]},
     "meta": {"severity": "quarantine"}}]}


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_results_and_data_docs_are_written_to_s3(spark: SparkSession, tmp_path: Path, s3) -> None:
    suites = tmp_path / "expectations" / "silver"
    suites.mkdir(parents=True)
    (suites / "orders.json").write_text(json.dumps(SUITE))
    df = spark.createDataFrame([("o1", "new"), ("o2", "lost")], "id string, status string")
    ops = f"s3://{BUCKET}/ops"
    result = run_quality_gate(spark, df, suite="orders", layer="silver", contract=None, run_date="2024-03-01",
                              run_id="run-1", ops_root=ops, suites_directory=tmp_path / "expectations",
                              now=datetime(2024, 3, 2, 1, tzinfo=UTC))
    assert result.summary["result_path"] == f"{ops}/quality/results/silver/orders/run_date=2024-03-01/run-1.json"
    assert result.summary["docs_path"] == f"{ops}/data_docs/index.html"
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="ops/")["Contents"]}
    assert "ops/quality/results/silver/orders/run_date=2024-03-01/run-1.json" in keys
    assert "ops/data_docs/index.html" in keys
    pages = [k for k in keys if k.startswith("ops/data_docs/validations/silver/orders/run-1/")]
    assert len(pages) == 1
    index = s3.get_object(Bucket=BUCKET, Key="ops/data_docs/index.html")["Body"].read().decode()
    assert pages[0].removeprefix("ops/data_docs/") in index and "silver.orders" in index
    assert "run-1" in quality_table(Path("unused"), "2024-03-01", ops_root=ops)
    assert build_data_docs(ops, site_root=f"s3://{BUCKET}/site") == f"s3://{BUCKET}/site/index.html"
    assert s3.get_object(Bucket=BUCKET, Key="site/index.html")["ContentLength"] > 0
