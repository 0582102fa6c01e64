"""DataFrame assertions that print a readable, row-by-row diff when they fail."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

from pyspark.sql import DataFrame, SparkSession


def rows(df: DataFrame, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    selected = df.select(*columns) if columns else df
    return sorted((r.asDict(recursive=True) for r in selected.collect()), key=repr)


def assert_rows(df: DataFrame, expected: Iterable[dict[str, Any]], columns: Sequence[str] | None = None) -> None:
    """Compare a DataFrame with expected rows (order-insensitive) on `columns` (default: expected keys)."""
    expected = list(expected)
    columns = list(columns or (expected[0].keys() if expected else df.columns))
    actual = rows(df, columns)
    wanted = sorted(({c: e.get(c) for c in columns} for e in expected), key=repr)
    if actual != wanted:
        diff = "\n".join(difflib.unified_diff([repr(r) for r in wanted], [repr(r) for r in actual],
                                              "expected", "actual", lineterm=""))
        raise AssertionError(f"DataFrame rows differ on {columns}:\n{diff}")


def write_table(spark: SparkSession, lake: Any, layer: str, name: str, df: DataFrame,
                partition_columns: Sequence[str] = ()) -> None:
    """Replace a lake table's whole content with `df` (test fixtures): one Iceberg commit."""
    from pyspark.sql import functions as F

    from jobs.lake import LakeLayout
    from jobs.tables import ensure_table, lake_catalog, publish, stage_overwrite

    layout = lake if isinstance(lake, LakeLayout) else LakeLayout.from_root(str(lake))
    ref = lake_catalog(spark, layout).table(layer, name)
    ensure_table(spark, ref, df.schema, partition_columns)
    publish(spark, stage_overwrite(spark, ref, df, F.lit(True), run_id="test-fixture", job="test", read_snapshot=None))


def data_files_of(spark: SparkSession, ref: Any) -> tuple[set[str], set[str]]:
    """(Parquet files under a local table's folder, data files its snapshots reference): equal when no
    file is orphaned and none is missing."""
    from pathlib import Path

    on_disk = {str(p) for p in Path(ref.location.replace("file:", "")).rglob("*.parquet")}
    referenced = {r[0].replace("file:", "") for r in
                  spark.sql(f"SELECT file_path FROM {ref.identifier}.all_data_files").collect()}
    return on_disk, referenced
