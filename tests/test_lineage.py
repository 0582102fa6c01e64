"""OpenLineage events of job runs (jobs/lineage) and `lakehouse lineage` (pipelines/lineage_graph.py)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

from jobs.lake import LakeLayout
from jobs.lineage.emit import run_with_lineage
from jobs.lineage.facets import parent_run_id
from pipelines.lineage_graph import read_events

MIN_RELEASE = (1, 22)  # the OpenLineage release whose spec the events must follow, at least


def release_of(producer: str) -> tuple[int, ...]:
    """`https://github.com/OpenLineage/OpenLineage/tree/1.54.0/client/python` -> (1, 54, 0)."""
    return tuple(int(p) for p in producer.split("/tree/", 1)[1].split("/", 1)[0].split("."))


def validate(document: dict[str, Any]) -> RunEvent:
    """Rebuild a stored event through the client's own typed model, whose validators enforce the spec's
    required fields, a UUID run id, an ISO 8601 event time and URI producer/schemaURL. (The wheel ships
    no JSON schema files to validate against; see docs/lineage.md.)"""
    assert set(document) >= {"eventTime", "eventType", "run", "job", "producer", "schemaURL"}, sorted(document)
    for facet in [*document["run"].get("facets", {}).values(), *document["job"].get("facets", {}).values(),
                  *[f for d in document.get("inputs", []) + document.get("outputs", [])
                    for f in d.get("facets", {}).values()]]:
        assert release_of(facet["_producer"]) >= MIN_RELEASE and facet["_schemaURL"].startswith("https://"), facet
    event = RunEvent(
        eventType=RunState(document["eventType"]), eventTime=document["eventTime"],
        run=Run(runId=document["run"]["runId"]), job=Job(namespace=document["job"]["namespace"],
                                                          name=document["job"]["name"]),
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"]) for d in document.get("inputs", [])],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"]) for d in document.get("outputs", [])],
        producer=document["producer"])
    assert event.schemaURL == document["schemaURL"]  # the spec version this client writes
    return event


ARGS = {"run_date": "2024-01-03", "run_id": "training-2024-01-03", "pipeline": "training"}


def failing_job(_spark: Any, _args: dict[str, Any]) -> dict[str, Any]:
    raise ValueError("the held-out window has no fraud")


def test_a_failing_job_run_emits_start_then_fail_with_its_error_and_still_raises(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="held-out window"):
        run_with_lineage("evaluate_model", failing_job, None, {**ARGS, "lake_root": str(tmp_path)})

    events = sorted(read_events(LakeLayout.from_root(str(tmp_path))), key=lambda e: e["eventTime"])
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert events[0]["run"]["runId"] == events[1]["run"]["runId"]
    error = events[1]["run"]["facets"]["errorMessage"]
    assert error["message"] == "ValueError: the held-out window has no fraud" and "failing_job" in error["stackTrace"]
    parent = events[1]["run"]["facets"]["parent"]
    assert parent["job"]["name"] == "lakehouse-training"
    assert parent["run"]["runId"] == parent_run_id("training", "training-2024-01-03")
    for event in events:
        validate(event)


def test_lineage_off_sends_nothing_and_bad_settings_name_the_setting(tmp_path: Path) -> None:
    report = run_with_lineage("record_model", lambda _s, _a: {"job": "x"}, None,
                              {**ARGS, "lake_root": str(tmp_path), "lineage": "off"})
    assert report == {"job": "x"} and read_events(LakeLayout.from_root(str(tmp_path))) == []
    with pytest.raises(ValueError, match="--lineage must be on or off"):
        run_with_lineage("record_model", lambda _s, _a: {}, None, {**ARGS, "lineage": "maybe"})


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


def test_with_a_lineage_url_events_go_to_the_http_api_and_not_to_the_lake(tmp_path: Path) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Collector)  # a real HTTP endpoint standing in for Marquez
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        with pytest.raises(ValueError):
            run_with_lineage("evaluate_model", failing_job, None,
                             {**ARGS, "lake_root": str(tmp_path), "lineage_url": url})
    finally:
        server.shutdown()
    assert [(path, body["eventType"]) for path, body in _Collector.received] == [
        ("/api/v1/lineage", "START"), ("/api/v1/lineage", "FAIL")]
    assert read_events(LakeLayout.from_root(str(tmp_path))) == []


def test_every_job_run_of_each_ingestion_run_emits_start_and_complete_with_its_datasets(ingested_lake) -> None:
    layout = LakeLayout.from_root(str(ingested_lake.root))
    events = read_events(layout)
    for event in events:
        validate(event)
    states = Counter((e["run"]["runId"], e["eventType"]) for e in events)
    runs = {run_id for run_id, _ in states}
    assert all(states[(r, "START")] == 1 and states[(r, "COMPLETE")] == 1 for r in runs), states
    per_pipeline_run = Counter(e["run"]["facets"]["lakehouse_run"]["runId"] for e in events
                               if e["eventType"] == "COMPLETE")
    datasets = sorted(p.name for p in (ingested_lake.root / "bronze").iterdir() if p.is_dir())
    # one bronze_to_silver per dataset, then each other job of the pipeline once: every job run of every date
    from pipelines.registry import PIPELINES

    others = [job for job in PIPELINES["ingestion"].glue_jobs if job != "bronze_to_silver"]
    assert per_pipeline_run == {f"ingestion-2024-01-0{d}": len(datasets) + len(others) for d in (1, 2, 3)}

    complete = [e for e in events if e["eventType"] == "COMPLETE"]
    promote = next(e for e in complete if e["job"]["name"] == "bronze_to_silver.transactions"
                   and e["run"]["facets"]["lakehouse_run"]["runId"] == "ingestion-2024-01-02")
    assert promote["inputs"] and all(i["name"].startswith("bronze/transactions/ingest_date=2024-01-02/")
                                     for i in promote["inputs"])
    silver = next(o for o in promote["outputs"] if o["name"] == "silver.transactions")
    assert silver["namespace"] == f"file://{ingested_lake.root.resolve()}"
    assert int(silver["facets"]["version"]["datasetVersion"]) > 0
    assert {"transaction_id", "amount", "_run_id"} <= {f["name"] for f in silver["facets"]["schema"]["fields"]}
    assertions = silver["facets"]["dataQualityAssertions"]["assertions"]
    assert assertions and any(a["column"] == "transaction_id" for a in assertions)
    assert silver["facets"]["lakehouse_pii"]["columns"]  # the contract's per-column PII actions

    gold = next(e for e in complete if e["job"]["name"] == "silver_to_gold"
                and e["run"]["facets"]["lakehouse_run"]["runId"] == "ingestion-2024-01-03")
    assert {i["name"] for i in gold["inputs"]} == {"silver.transactions", "silver.customers"}
    features = next(o for o in gold["outputs"] if o["name"] == "gold.customer_features")
    assert features["facets"]["lakehouse_partitions"]["partitions"] == ["as_of_date=2024-01-03"]
    amount = features["facets"]["columnLineage"]["fields"]["txn_amount_30d"]["inputFields"]
    assert {(f["name"], f["field"]) for f in amount} == {("silver.transactions", "amount"),
                                                        ("silver.transactions", "event_time")}


def test_the_local_glue_runner_emits_start_and_fail_for_a_job_run_that_fails(tmp_path: Path) -> None:
    from pipelines.local_run import JobFailedError, LocalGlueRunner

    runner = LocalGlueRunner(tmp_path)  # record_model needs no Spark: none is started
    with pytest.raises(JobFailedError, match="job record_model"):
        runner("lakehouse-dev-record_model", {"--run_date": "2024-01-03", "--run_id": "training-2024-01-03",
                                              "--pipeline": "training", "--decision": "deployed",
                                              "--training_job_name": "fraud-training-2024-01-03"})

    events = sorted(read_events(LakeLayout.from_root(str(tmp_path))), key=lambda e: e["eventTime"])
    assert [(e["job"]["name"], e["eventType"]) for e in events] == [("record_model", "START"),
                                                                    ("record_model", "FAIL")]
    assert "metrics" in events[1]["run"]["facets"]["errorMessage"]["message"]


def test_a_path_inside_a_table_names_the_table_and_bronze_files_are_named_under_the_lake(tmp_path: Path) -> None:
    from jobs.lineage.addresses import file_address, table_display

    layout = LakeLayout.from_root(str(tmp_path))
    assert table_display(layout, f"{layout.gold}/scoring_input/event_date=2024-01-03") == "gold.scoring_input"
    assert table_display(layout, f"{layout.silver}/transactions/") == "silver.transactions"
    with pytest.raises(ValueError, match="under none of the lake's layers"):
        table_display(layout, "/elsewhere/transactions")
    path = f"{layout.bronze}/transactions/ingest_date=2024-01-01/a.csv"
    assert file_address(layout, path) == (f"file://{tmp_path.resolve()}",
                                          "bronze/transactions/ingest_date=2024-01-01/a.csv")
    s3 = LakeLayout.from_args({"bronze_root": "s3://acme-bronze/feeds"})
    assert file_address(s3, "s3://acme-bronze/feeds/transactions/ingest_date=2024-01-01/a.csv") == (
        "s3://acme-bronze", "feeds/transactions/ingest_date=2024-01-01/a.csv")
