"""`lakehouse backfill --target aws`: real executions started through boto3 on a moto server over HTTP.

The deployed state machines are stand-ins with the pipelines' names (moto's server cannot run the
Glue jobs): `ingestion` fails the first attempt of 2024-01-03 and succeeds otherwise, and
`batch_inference` waits a second, so runs that overlap can be seen.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import boto3
import pytest
import requests
from moto.core.config import default_user_config
from moto.server import ThreadedMotoServer

from pipelines import cli
from pipelines.backfill import AwsTarget, backfill
from tests.test_backfill import table_rows

DATES = [date(2024, 1, day) for day in range(1, 5)]
ROLE = "arn:aws:iam::123456789012:role/lakehouse-dev-state-machine"
FLAKY_INGESTION = {
    "StartAt": "FirstTryOfTheThird",
    "States": {
        "FirstTryOfTheThird": {"Type": "Choice", "Choices": [{"And": [
            {"Variable": "$.run_date", "StringEquals": "2024-01-03"},
            {"Variable": "$.attempt", "NumericEquals": 1}], "Next": "Broken"}], "Default": "Done"},
        "Broken": {"Type": "Fail", "Error": "IngestionFailed", "Cause": "bronze file unreadable"},
        "Done": {"Type": "Succeed"},
    },
}
SLOW_BATCH = {"StartAt": "Work", "States": {"Work": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
                                           "Done": {"Type": "Succeed"}}}


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's config is process-wide and its GET /moto-api/config leaves stepfunctions out, so the value to
    # restore is read in-process: left on, it would send later moto users to the executing backend.
    previous = {"stepfunctions": dict(default_user_config["stepfunctions"])}
    requests.post(f"{url}/moto-api/config", json={"stepfunctions": {"execute_state_machine": True}}, timeout=10)
    try:
        yield url
    finally:
        requests.post(f"{url}/moto-api/config", json=previous, timeout=10)
        requests.post(f"{url}/moto-api/reset", timeout=10)
        server.stop()


def deploy(url: str, name: str, definition: dict[str, Any]) -> Any:
    client = boto3.client("stepfunctions", endpoint_url=url, region_name="us-east-1")
    client.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)
    return client


def aws_backfill(url: str, pipeline: str = "ingestion", dates: list[date] = DATES,
                 **options: Any) -> tuple[int, dict[str, tuple[str, str]]]:
    out = io.StringIO()
    target = AwsTarget(f"lakehouse-dev-{pipeline}", region="us-east-1", endpoint_url=url, poll_seconds=0.05)
    code = backfill(pipeline, None, dates, target=target, out=out, **options)  # type: ignore[arg-type]
    return code, table_rows(out.getvalue())


def executions(client: Any) -> dict[str, str]:
    arn = client.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    return {e["name"]: e["status"] for e in client.list_executions(stateMachineArn=arn)["executions"]}


@pytest.mark.integration
def test_real_executions_are_started_named_and_resumed_after_a_failure(endpoint: str) -> None:
    client = deploy(endpoint, "lakehouse-dev-ingestion", FLAKY_INGESTION)
    code, rows = aws_backfill(endpoint)

    assert code == 1
    assert [rows[d.isoformat()][0] for d in DATES] == ["SUCCEEDED", "SUCCEEDED", "FAILED", "NOT RUN"]
    assert executions(client) == {"ingestion-2024-01-01": "SUCCEEDED", "ingestion-2024-01-02": "SUCCEEDED",
                                  "ingestion-2024-01-03": "FAILED"}
    first = client.describe_execution(executionArn=client.list_executions(
        stateMachineArn=client.list_state_machines()["stateMachines"][0]["stateMachineArn"])["executions"][-1][
        "executionArn"])
    assert json.loads(first["input"])["datasets"] == ["customers", "support_tickets", "transactions"]

    code, rows = aws_backfill(endpoint, resume=True)
    assert code == 0
    assert rows == {"2024-01-01": ("SKIPPED", ""), "2024-01-02": ("SKIPPED", ""),
                    "2024-01-03": ("SUCCEEDED", "ingestion-2024-01-03-attempt-2"),
                    "2024-01-04": ("SUCCEEDED", "ingestion-2024-01-04")}
    assert len(executions(client)) == 5

    code, rows = aws_backfill(endpoint, dry_run=True, force=True)
    assert rows["2024-01-03"] == ("PLANNED", "ingestion-2024-01-03-attempt-3") and len(executions(client)) == 5


@pytest.mark.integration
def test_independent_dates_run_at_once_and_a_running_execution_is_waited_for_on_resume(endpoint: str) -> None:
    client = deploy(endpoint, "lakehouse-dev-batch_inference", SLOW_BATCH)
    code, rows = aws_backfill(endpoint, "batch_inference", DATES[:3], parallel=3)
    assert code == 0 and {status for status, _ in rows.values()} == {"SUCCEEDED"}
    arn = client.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    described = [client.describe_execution(executionArn=e["executionArn"])
                 for e in client.list_executions(stateMachineArn=arn)["executions"]]
    assert max(d["startDate"] for d in described) < min(d["stopDate"] for d in described)  # they overlapped

    # A date whose execution is still running (an interrupted backfill on another machine):
    client.start_execution(stateMachineArn=arn, name="batch_inference-2024-01-04", input="{}")
    code, rows = aws_backfill(endpoint, "batch_inference", [DATES[3]])
    assert rows["2024-01-04"][0] == "RUNNING" and code == 0
    code, rows = aws_backfill(endpoint, "batch_inference", [DATES[3]], resume=True)
    assert rows["2024-01-04"] == ("SUCCEEDED", "batch_inference-2024-01-04")
    assert len(executions(client)) == 4  # waited for, not started twice


@pytest.mark.integration
def test_the_cli_targets_aws(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    deploy(endpoint, "lakehouse-dev-ingestion", FLAKY_INGESTION)
    code = cli.main(["backfill", "ingestion", "--target", "aws", "--endpoint-url", endpoint, "--region", "us-east-1",
                     "--poll-seconds", "0.05", "--start", "2024-01-01", "--end", "2024-01-02"])
    assert code == 0
    assert table_rows(capsys.readouterr().out) == {"2024-01-01": ("SUCCEEDED", "ingestion-2024-01-01"),
                                                   "2024-01-02": ("SUCCEEDED", "ingestion-2024-01-02")}
    with pytest.raises(SystemExit, match="no state machine named 'lakehouse-prod-ingestion'"):
        cli.main(["backfill", "ingestion", "--target", "aws", "--endpoint-url", endpoint, "--region", "us-east-1",
                  "--stage", "prod", "--start", "2024-01-01", "--end", "2024-01-01"])
