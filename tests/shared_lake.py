"""One dirty lake ingested through the local ingestion pipeline: built once per test session (the
`ingested_lake` fixture in conftest.py) and read by several modules, so its three pipeline runs are
paid once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.tables import lake_table
from pipelines.lake_tables import open_local
from pipelines.local_run import local_pipelines
from pipelines.synthetic import generate

START, DAYS, ROWS_PER_DAY, SEED = date(2024, 1, 1), 3, 240, 3


@dataclass(frozen=True)
class IngestedLake:
    root: Path
    after_day_2: dict[str, list[tuple]]  # every table's rows as they were before the last day's run


def table_rows(spark: SparkSession, lake: Path, table: str) -> list[tuple]:
    """A table's rows (`layer.name`) as sorted tuples: its whole content, as readers see it."""
    layer, name = table.split(".")
    return sorted(tuple(str(v) for v in row) for row in lake_table(spark, lake, layer, name).collect())


def ingest_dirty_lake(spark: SparkSession, root: Path) -> IngestedLake:
    """Generate DAYS dirty days and run the ingestion pipeline on each, capturing every table before
    the last run."""
    generate(root, START, DAYS, ROWS_PER_DAY, seed=SEED, dirty=True)
    after_day_2: dict[str, list[tuple]] = {}
    with local_pipelines(root, spark_factory=lambda: spark) as pipelines:
        for offset in range(DAYS):
            if offset == DAYS - 1:
                after_day_2 = {name: table_rows(spark, root, name) for name in open_local(root).names()}
            run = pipelines.run("ingestion", START + timedelta(days=offset))
            assert run.status == "SUCCEEDED", run.execution.render_history()
    return IngestedLake(root, after_day_2)
