"""Publishing partitions: write to a run's staging folder, then swap each partition into place.

Readers see a partition's old content or its new content, never a half-written one (see
`storage.replace_folder` for what that means on a local disk and on S3). A failure before the swap
leaves the published data untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame, SparkSession

from jobs.silver.dedupe import PARTITION_COLUMNS
from jobs.storage import exists, list_subdirs, remove_tree, replace_folder


def _relative(values: Sequence[str], columns: Sequence[str]) -> str:
    return "/".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))


def table_partitions(table: str, columns: Sequence[str] = PARTITION_COLUMNS) -> list[tuple[str, ...]]:
    """The partitions a table holds: its `year=/month=/day=` folders at full depth, sorted. A parent
    folder left empty when its last partition was removed is not a partition."""
    found: list[tuple[str, ...]] = [()]
    for depth, column in enumerate(columns):
        prefix = f"{column}="
        found = [(*values, name[len(prefix):]) for values in found
                 for name in list_subdirs(f"{table}/{_relative(values, columns[:depth])}" if values else table)
                 if name.startswith(prefix)]
    return sorted(found)


def table_exists(table: str) -> bool:
    """A table exists once it holds at least one published partition."""
    return bool(table_partitions(table))


def read_partitions(spark: SparkSession, table: str, partitions: Sequence[tuple[str, ...]] | None = None,
                    columns: Sequence[str] = PARTITION_COLUMNS) -> DataFrame | None:
    """The table's rows in `partitions` (all of them when None), with the partition columns.

    Only the named partition folders are listed and read, so the cost does not grow with the
    table's other partitions. None when the table holds none of them.
    """
    held = table_partitions(table, columns)
    if partitions is not None:
        wanted = {tuple(p) for p in partitions}
        held = [p for p in held if p in wanted]
    if not held:
        return None
    return spark.read.option("basePath", table).parquet(*[f"{table}/{_relative(p, columns)}" for p in held])


Verify = Callable[[str], None]


def publish_partitions(content: DataFrame, table: str, partitions: Sequence[tuple[str, ...]], staging: str,
                       columns: Sequence[str] = PARTITION_COLUMNS,
                       verify: Verify | None = None) -> list[tuple[str, ...]]:
    """Replace exactly `partitions` of `table` with `content` (which holds only those partitions).

    `verify(staging)` runs on what was written before anything is swapped in; raising there
    publishes nothing. A listed partition with no rows left in `content` is removed. Returns the
    partitions published: replaced, or removed (a listed partition with no rows that the table did
    not hold either is neither, and is not returned).
    """
    remove_tree(staging)
    content.write.mode("overwrite").partitionBy(*columns).parquet(staging)
    if verify is not None:
        try:
            verify(staging)
        except Exception:
            remove_tree(staging)
            raise
    published = []
    for values in partitions:
        relative = _relative(values, columns)
        staged, target = f"{staging}/{relative}", f"{table}/{relative}"
        if exists(staged):
            replace_folder(staged, target)
        elif exists(target):
            remove_tree(target)
        else:
            continue
        published.append(tuple(values))
    remove_tree(staging)
    return published
