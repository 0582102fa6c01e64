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
