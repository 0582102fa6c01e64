"""finalize_run's manifest: how long a run took, from the execution's start time."""

from __future__ import annotations

import datetime as dt

from jobs.finalize_run import build_manifest, run_duration
from pipelines.local_engine.moto_patches import aws_timestamp

FINISHED = dt.datetime(2024, 1, 4, 0, 1, 30, 500000, tzinfo=dt.UTC)


def test_duration_is_measured_from_the_execution_start_as_step_functions_writes_it():
    assert run_duration("2024-01-04T00:00:00.250Z", FINISHED) == 90.25
    assert run_duration("2024-01-04T01:00:00.000+01:00", FINISHED) == 90.5  # any offset


def test_an_unknown_or_unreadable_start_gives_no_duration_rather_than_a_failed_manifest():
    assert run_duration(None, FINISHED) is None
    assert run_duration("", FINISHED) is None
    assert run_duration("yesterday evening", FINISHED) is None


def test_the_manifest_carries_the_start_and_the_duration():
    manifest = build_manifest("training", "2024-01-03", "training-2024-01-03", "SUCCEEDED", [],
                              started_at="2024-01-03T23:30:00.000Z")
    assert manifest["started_at"] == "2024-01-03T23:30:00.000Z"
    assert manifest["duration_seconds"] > 0
    assert build_manifest("training", "2024-01-03", "r", "SUCCEEDED", [])["duration_seconds"] is None


def test_the_local_engine_renders_the_start_time_as_aws_does():
    """UTC, milliseconds, `Z`: `$$.Execution.StartTime` on AWS looks like 2019-03-26T20:14:13.192Z."""
    paris = dt.timezone(dt.timedelta(hours=1))
    assert aws_timestamp(dt.datetime(2024, 1, 4, 1, 0, 0, 123456, tzinfo=paris)) == "2024-01-04T00:00:00.123Z"
    assert aws_timestamp(dt.datetime(2024, 1, 4, 0, 0, 0, 5000)) == "2024-01-04T00:00:00.005Z"
