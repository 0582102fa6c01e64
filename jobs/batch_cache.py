"""Keep a frame that several actions read: cached, or for a small batch checkpointed locally.

A job run reads its batch many times (counts, deduplication, the quality gate, the write). Caching
with `persist` keeps the frame's whole logical plan: every later action over it is analysed and
optimised from bronze again and matched against the cache, which on a batch of a few thousand
rows costs more than the data (bronze_to_silver on the demo's customers: 17.4 s of CPU a run with
`persist`, 9.0 s with a local checkpoint, paired runs in one session, docs/speed.md). A local
checkpoint stores the same blocks and cuts the plan to a scan of them.

The price: a checkpointed block lost with its executor cannot be recomputed, and the job fails
instead of recomputing (a Glue retry then runs it again; the write-audit-publish path makes that
safe). So only batches under `SMALL_BATCH_BYTES` of bronze are checkpointed, where a run is short
and the fixed cost is most of it; larger ones stay persisted and recomputable.
"""

from __future__ import annotations

from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame

# Bronze bytes of one run up to which its batch is checkpointed instead of persisted (~400k
# transaction rows): well past where the per-action fixed cost stops mattering (docs/speed.md).
SMALL_BATCH_BYTES = 64 * 1024 * 1024


# Rows up to which a frame whose bronze size is not known (a gold table) counts as a small batch:
# about what SMALL_BATCH_BYTES of bronze transactions hold.
SMALL_BATCH_ROWS = 400_000


def is_small_batch(bronze_bytes: int) -> bool:
    return bronze_bytes <= SMALL_BATCH_BYTES


class PinnedFrames:
    """The frames one job run keeps for several reads, released together when the run is done."""

    def __init__(self, small_batch: bool):
        self.small_batch = small_batch
        self._frames: list[DataFrame] = []

    def pin(self, frame: DataFrame) -> DataFrame:
        """The frame to read from now on (computed once, at its first action)."""
        pinned = frame.localCheckpoint(eager=False) if self.small_batch else frame.persist(StorageLevel.MEMORY_AND_DISK)
        self._frames.append(pinned)
        return pinned

    def release(self) -> None:
        """Drop every pinned frame's blocks (a checkpoint's too: they would stay until the JVM
        collected its RDD, which a long local session may not do for a while)."""
        for frame in self._frames:
            if self.small_batch:
                checkpoint_rdd(frame).unpersist(False)
            else:
                frame.unpersist()
        self._frames.clear()


def checkpoint_rdd(frame: DataFrame) -> Any:
    """The JVM RDD (a py4j handle) a locally checkpointed frame reads: its analysed plan's root."""
    return frame._jdf.queryExecution().analyzed().rdd()
