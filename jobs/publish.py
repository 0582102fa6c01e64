"""Publishing partitions: write to a run's staging folder, then swap each partition into place.

Readers see a partition's old content or its new content, never a half-written one (see
`storage.replace_folder` for what that means on a local disk and on S3). A failure before the swap
leaves the published data untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyspark.sql import DataFrame

from jobs.silver.dedupe import PARTITION_COLUMNS
from jobs.storage import exists, list_subdirs, remove_tree, replace_folder


def table_exists(table: str) -> bool:
    """A table exists once it has at least one published partition folder."""
    return any(name.startswith(f"{PARTITION_COLUMNS[0]}=") for name in list_subdirs(table))


def _relative(values: Sequence[str], columns: Sequence[str]) -> str:
    return "/".join(f"{c}={v}" for c, v in zip(columns, values, strict=True))


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
