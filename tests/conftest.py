"""Shared fixtures: one SparkSession for the whole test session, and one ingested lake read by several modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from pyspark.sql import SparkSession

from jobs.runtime import build_local_spark

if TYPE_CHECKING:
    from tests.shared_lake import IngestedLake


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = build_local_spark(app_name="lakehouse-tests", shuffle_partitions=4)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def ingested_lake(spark, tmp_path_factory) -> IngestedLake:
    """Three dirty days through the ingestion pipeline, shared by test_dirty_feed and test_iceberg_tables.
    Read it; a test that must change it puts it back (test_iceberg_tables' rollback test does)."""
    from tests.shared_lake import ingest_dirty_lake

    return ingest_dirty_lake(spark, tmp_path_factory.mktemp("ingested") / "lake")


@pytest.fixture(scope="session", autouse=True)
def pii_key_file(tmp_path_factory) -> Iterator[None]:
    """Jobs create their tokenization key on first use; keep the tests' key out of the home folder."""
    import os

    previous = os.environ.get("LAKEHOUSE_PII_KEY_FILE")
    os.environ["LAKEHOUSE_PII_KEY_FILE"] = str(tmp_path_factory.mktemp("pii") / "pii.key")
    yield
    if previous is None:
        os.environ.pop("LAKEHOUSE_PII_KEY_FILE", None)
    else:
        os.environ["LAKEHOUSE_PII_KEY_FILE"] = previous
