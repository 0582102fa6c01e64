"""Where a job runs is decided once (jobs/environment.py): the same job and the same storage operations on
local files and on S3 (a moto server over HTTP), and the decisions themselves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from jobs import finalize_run, run_metrics
from jobs.environment import (
    ENVIRONMENT_ARG,
    AwsEndpoints,
    CatalogChoice,
    JobEnvironment,
    default_metrics_target,
    environment_of,
    storage_for,
)
from jobs.job_context import JobContext
from jobs.local_files import LocalFiles
from jobs.s3_objects import S3Objects
from jobs.storage import Storage
from tests.moto_endpoint import empty_moto_server

REGION = "us-east-1"
BUCKET = "lakehouse-env-test"
RUN_DATE = "2024-03-01"


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    with empty_moto_server(REGION) as url:
        boto3.client("s3", endpoint_url=url, region_name=REGION).create_bucket(Bucket=BUCKET)
        yield url


@pytest.fixture
def on_moto(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """AWS calls of this test go to the module's moto server (credentials as empty_moto_server sets them)."""
    for name, value in {"AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
                        "AWS_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    return moto_url


# --- the decisions -------------------------------------------------------------------------------

def test_a_path_is_served_by_the_storage_of_its_scheme() -> None:
    assert isinstance(storage_for("/data/lake/ops"), LocalFiles)
    assert isinstance(storage_for("file:/data/lake/bronze/a.csv"), LocalFiles)
    assert isinstance(storage_for("s3://bucket/ops"), S3Objects)
    assert isinstance(storage_for("s3a://bucket/bronze"), S3Objects)


def test_the_catalog_is_chosen_from_the_arguments_with_a_clear_error() -> None:
    assert CatalogChoice.from_args({}) == CatalogChoice("local")
    assert CatalogChoice.from_args({"glue_database": "lake_db"}) == CatalogChoice("glue", "lake_db")
    assert CatalogChoice.from_args({"catalog": "LOCAL", "glue_database": "lake_db"}).kind == "local"
    with pytest.raises(ValueError, match="--catalog must be 'local' or 'glue', got 'hive'"):
        CatalogChoice.from_args({"catalog": "hive"})
    with pytest.raises(ValueError, match="--catalog glue needs --glue_database"):
        CatalogChoice.from_args({"catalog": "glue"})


def test_metrics_go_to_cloudwatch_only_for_an_ops_root_in_s3() -> None:
    assert default_metrics_target("auto", "/lake/ops") == "local"
    assert default_metrics_target("auto", "s3://artifacts/ops/") == "cloudwatch"
    assert default_metrics_target("local", "s3://artifacts/ops/") == "local"
    with pytest.raises(ValueError, match="--metrics must be auto, local, cloudwatch or none, got 's3'"):
        default_metrics_target("s3", "/lake/ops")


def test_the_environment_is_built_once_from_the_arguments_and_carried_by_the_job_context(tmp_path: Path) -> None:
    frozen = datetime(2024, 3, 2, 1, 30, tzinfo=UTC)
    args: dict[str, Any] = {"run_date": RUN_DATE, "lake_root": str(tmp_path / "lake"),
                            "ops_root": "s3://artifacts/ops", "glue_database": "lake_db"}
    emulator = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5000", "AWS_DEFAULT_REGION": "eu-west-1"}
    env = JobEnvironment.from_args(args, in_glue=True, clock=lambda: frozen, environ=emulator)
    assert env.run_id == "manual-20240302T013000" and env.now() == frozen
    assert env.in_glue and env.catalog == CatalogChoice("glue", "lake_db")
    assert env.endpoints == AwsEndpoints(default="http://127.0.0.1:5000", region="eu-west-1")
    assert env.layout.silver == str(tmp_path / "lake" / "silver") and env.layout.ops == "s3://artifacts/ops"
    assert env.storage_for(env.layout.ops) is env.s3 and env.storage_for(env.layout.silver) is env.local
    assert env.metrics_target() == "cloudwatch"

    ctx = JobContext.from_args({**args, ENVIRONMENT_ARG: env})
    assert ctx.env is env and ctx.run_id == env.run_id and ctx.layout == env.layout
    assert ctx.run_date == date(2024, 3, 1)
    # A job called directly (tests, the local engine) gets one built from its arguments.
    assert environment_of({**args, "run_id": "r-9"}).run_id == "r-9"


def test_the_glue_entry_point_builds_the_environment_and_hands_it_down(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs import runtime

    # This job never touches Spark: a placeholder stands in for the session the entry point would build.
    monkeypatch.setattr(runtime, "build_local_spark", lambda app_name: object())
    seen: list[JobContext] = []

    def run(_spark: Any, args: dict[str, Any]) -> dict[str, str]:
        seen.append(JobContext.from_args(args))
        seen.append(JobContext.from_args({**args, "pipeline": "maintenance"}))
        return {"run_id": seen[0].run_id}

    runtime.glue_entry_point(run, ["run_date"], {"lake_root": None, "lineage": None},
                             argv=["job.py", "--run_date", RUN_DATE, "--lake_root", str(tmp_path / "lake"),
                                   "--lineage", "off"])
    first, second = seen
    assert first.env is second.env and not first.env.in_glue
    assert first.run_id.startswith("manual-") and second.run_id == first.run_id


# --- one storage interface, two implementations --------------------------------------------------

def exercise(storage: Storage, root: str) -> dict[str, Any]:
    """The same operations on either storage; what they return, with `root` taken out of paths."""
    def rel(paths: list[str]) -> list[str]:
        return [p.removeprefix(root + "/") for p in paths]

    storage.write_json(f"{root}/runs/r1/a.json", {"n": 1})
    storage.write_text(f"{root}/runs/r1/b.csv", "id,name\r\n1,x\n")
    storage.write_bytes(f"{root}/runs/r1/_SUCCESS", b"")
    storage.write_text(f"{root}/runs/r1/_staging/c.json", "{}")
    storage.write_text(f"{root}/runs/r2/.hidden.json", "{}")
    storage.write_text(f"{root}/table/part=1/old.parquet", "old")
    storage.write_text(f"{root}/staged/part=1/new.parquet", "new")
    storage.replace_folder(f"{root}/staged/part=1", f"{root}/table/part=1")
    with storage.working_folder(f"{root}/site", keep_existing=("static/",)) as folder:
        (folder / "static").mkdir(parents=True, exist_ok=True)
        (folder / "static" / "app.js").write_text("v1")
        (folder / "index.html").write_text("<p>1</p>")
    with storage.working_folder(f"{root}/site", keep_existing=("static/",)) as folder:
        (folder / "static").mkdir(parents=True, exist_ok=True)
        (folder / "static" / "app.js").write_text("v2")  # written where the site is local: kept on S3
        (folder / "index.html").write_text("<p>2</p>")
    seen = {
        "json": storage.read_json(f"{root}/runs/r1/a.json"),
        "first_line": storage.first_line(f"{root}/runs/r1/b.csv").rstrip("\r\n"),
        "chunks": list(storage.read_chunks(f"{root}/runs/r1/b.csv", 5))[:2],
        "files": rel(storage.list_files(f"{root}/runs")),
        "json_files": rel(storage.list_files(f"{root}/runs/r1", (".json",))),
        "objects": [(p.removeprefix(root + "/"), size) for p, size in storage.list_objects(f"{root}/runs/r1")],
        "subdirs": storage.list_subdirs(f"{root}/runs"),
        "table": rel(storage.list_files(f"{root}/table")),
        "replaced": storage.read_text(f"{root}/table/part=1/new.parquet"),
        "staged_gone": not storage.exists(f"{root}/staged/part=1/new.parquet"),
        "index": storage.read_text(f"{root}/site/index.html"),
        "exists": [storage.exists(f"{root}/runs/r1"), storage.exists(f"{root}/runs/none")],
    }
    storage.remove_tree(f"{root}/runs")
    seen["after_remove"] = storage.list_files(f"{root}/runs")
    return seen


@pytest.mark.integration
def test_local_files_and_s3_objects_answer_the_same_operations_alike(tmp_path: Path, on_moto: str) -> None:
    local = exercise(LocalFiles(), str(tmp_path / "lake"))
    s3 = S3Objects()
    remote = exercise(s3, f"s3://{BUCKET}/storage-contract")
    assert remote == local
    # Hidden and `_`-prefixed names, and anything under a `_` or `.` folder, are no data files; both ways.
    assert local["files"] == ["runs/r1/a.json", "runs/r1/b.csv"] and local["json_files"] == ["runs/r1/a.json"]
    assert local["objects"] == [("runs/r1/_SUCCESS", 0), ("runs/r1/_staging/c.json", 2), ("runs/r1/a.json", 13),
                                ("runs/r1/b.csv", 13)]
    assert local["subdirs"] == ["r1", "r2"] and local["exists"] == [True, False] and local["after_remove"] == []
    assert local["table"] == ["table/part=1/new.parquet"] and local["replaced"] == "new" and local["staged_gone"]
    assert local["first_line"] == "id,name" and local["index"] == "<p>2</p>"
    # GE's static assets are uploaded once; a site already holding them keeps the first copy.
    assert s3.read_text(f"s3://{BUCKET}/storage-contract/site/static/app.js") == "v1"
    assert s3.spark_path("s3://b/k.csv") == "s3://b/k.csv"
    assert LocalFiles().spark_path(str(tmp_path / "a=1.csv")) == f"file://{tmp_path}/a=1.csv"


# --- the same job on both ------------------------------------------------------------------------

def bronze_report(run_id: str) -> dict[str, Any]:
    return {"job": "bronze_to_silver", "dataset": "orders", "run_id": run_id, "bronze_rows": 10, "silver_rows": 7,
            "quarantined_rows": 2, "duplicate_rows": 1}


def finalize(lake_root: str) -> tuple[JobEnvironment, dict[str, Any]]:
    """finalize_run as the Glue entry point runs it: one environment built from the arguments, handed down."""
    args: dict[str, Any] = {"run_date": RUN_DATE, "run_id": "env-run-1", "pipeline": "ingestion",
                            "lake_root": lake_root, "status": "SUCCEEDED", "metrics": "auto"}
    env = JobEnvironment.from_args(args, in_glue=False)
    env.storage_for(env.layout.ops).write_json(
        env.layout.job_report("ingestion", date.fromisoformat(RUN_DATE), "env-run-1", "bronze_to_silver.orders"),
        bronze_report("env-run-1"))
    return env, finalize_run.run(None, {**args, ENVIRONMENT_ARG: env})


@pytest.mark.integration
def test_finalize_run_is_the_same_job_on_local_files_and_on_s3(tmp_path: Path, on_moto: str) -> None:
    local_env, local = finalize(str(tmp_path / "lake"))
    s3_env, remote = finalize(f"s3://{BUCKET}/lake")

    # One code path: each run went through its environment's storage (only the S3 one made a client).
    assert "client" in s3_env.s3.__dict__ and "client" not in local_env.s3.__dict__
    for env, manifest in ((local_env, local), (s3_env, remote)):
        stored = env.storage_for(manifest["manifest_path"]).read_json(manifest["manifest_path"])
        assert stored == json.loads(json.dumps({k: v for k, v in manifest.items() if k != "manifest_path"},
                                               default=str))
        assert manifest["manifest_path"] == env.layout.manifest("ingestion", date(2024, 3, 1), "env-run-1")
        assert manifest["data_docs"] == f"{env.layout.ops}/data_docs/index.html"
        assert env.storage_for(manifest["data_docs"]).exists(manifest["data_docs"])

    where = {"manifest_path", "data_docs", "metrics", "finished_at"}
    assert {k: v for k, v in local.items() if k not in where} == {k: v for k, v in remote.items() if k not in where}
    assert local["totals"] == {"bronze_rows": 10, "silver_rows": 7, "quarantined_rows": 2, "duplicate_rows": 1}

    # Metrics where each environment says: a local file, or CloudWatch (moto).
    [line] = run_metrics.read_local(local_env.layout.ops)
    assert line["RunId"] == "env-run-1" and local["metrics"].endswith(".jsonl")
    assert remote["metrics"].startswith(f"{len(line['MetricData'])} metrics to CloudWatch")
    listed = boto3.client("cloudwatch").list_metrics(Namespace=run_metrics.NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in listed} == {d["MetricName"] for d in line["MetricData"]}
