"""Shared fixtures: one SparkSession for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from jobs.runtime import build_local_spark


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_local_spark(app_name="lakehouse-tests", shuffle_partitions=4)
    yield session
    session.stop()
