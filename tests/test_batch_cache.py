"""Frames a job pins for several reads: checkpointed when small, persisted otherwise; released after."""

from __future__ import annotations

import pytest

from jobs.batch_cache import SMALL_BATCH_BYTES, PinnedFrames, is_small_batch


def cached_partitions(spark) -> int:
    return sum(info.numCachedPartitions() for info in spark.sparkContext._jsc.sc().getRDDStorageInfo())


@pytest.mark.parametrize("small_batch", [True, False], ids=["checkpointed", "persisted"])
def test_a_pinned_frame_is_computed_once_and_its_blocks_are_gone_after_release(spark, small_batch):
    before = cached_partitions(spark)
    pinned = PinnedFrames(small_batch)
    # A row id is fixed when the frame is first computed: every later read must see the same ids.
    frame = pinned.pin(spark.range(0, 200, numPartitions=2).selectExpr(
        "id", "monotonically_increasing_id() AS row_id", "rand() AS noise"))
    first = sorted(tuple(r) for r in frame.collect())
    assert sorted(tuple(r) for r in frame.collect()) == first
    assert frame.where("id < 10").count() == 10
    assert cached_partitions(spark) == before + 2
    # A checkpointed frame's plan is a scan of its blocks, not the plan that computed them.
    plan = frame._jdf.queryExecution().analyzed().toString()
    assert ("Range" in plan) is not small_batch
    pinned.release()
    assert cached_partitions(spark) == before


def test_the_size_limit_is_inclusive():
    assert is_small_batch(0) and is_small_batch(SMALL_BATCH_BYTES)
    assert not is_small_batch(SMALL_BATCH_BYTES + 1)
