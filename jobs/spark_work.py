"""How much Spark work a job run asked for: its wall seconds and the number of Spark jobs it ran.

The Spark-job count is the fixed cost a small run pays that no noisy machine changes: each job is
a plan to analyse, optimise and schedule, whatever its rows (docs/speed.md). The jobs of one run are
found by a job group set on the run's thread (Spark's local properties are per thread, so runs
sharing a session in other threads are not counted) and read back from the status tracker, which
keeps the last `spark.ui.retainedJobs` (1,000) jobs: a run with more is reported as at least that.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pyspark import SparkContext

JOB_GROUP = "spark.jobGroup.id"
JOB_DESCRIPTION = "spark.job.description"


@dataclass
class SparkWork:
    seconds: float = 0.0
    spark_jobs: int | None = None  # None: no SparkContext in this process (a Python-shell job)

    def report(self) -> dict[str, float | int | None]:
        return {"seconds": round(self.seconds, 3), "spark_jobs": self.spark_jobs}


@contextmanager
def measured(label: str) -> Iterator[SparkWork]:
    """Time the block and count the Spark jobs this thread runs in it; the thread's own job group,
    if it had one, is restored after."""
    work = SparkWork()
    sc = SparkContext._active_spark_context
    group = f"{label}-{uuid.uuid4().hex[:8]}"
    previous = (sc.getLocalProperty(JOB_GROUP), sc.getLocalProperty(JOB_DESCRIPTION)) if sc else (None, None)
    if sc is not None:
        sc.setJobGroup(group, label)
    started = time.monotonic()
    try:
        yield work
    finally:
        work.seconds = time.monotonic() - started
        if sc is not None:
            work.spark_jobs = len(sc.statusTracker().getJobIdsForGroup(group))
            sc.setLocalProperty(JOB_GROUP, previous[0])  # type: ignore[arg-type]
            sc.setLocalProperty(JOB_DESCRIPTION, previous[1])  # type: ignore[arg-type]
