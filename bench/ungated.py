"""bronze_to_silver without its quality gate, composed from the job's own steps (benchmarks only).

The job has no switch for this: a benchmark that measures what the gate costs runs the same steps
(`prepare_batch`, then `publish_batch`) with a verdict that passes every candidate, in the same shell
(context, conflict retry, report file), so both runs do the same work apart from the gate. The report
of such a run says `quality.status: skipped`, so it cannot pass for a validated one.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobs import bronze_to_silver
from jobs.job_context import JobContext
from jobs.job_shell import run_job
from jobs.phase_clock import PhaseClock
from jobs.quality.gate import GateResult

SKIPPED = {"status": "skipped", "detail": "run without the quality gate (benchmark)"}


def skipped_gate(candidates: DataFrame) -> GateResult:
    """A verdict that publishes every candidate and routes none (no expectation ran)."""
    return GateResult(valid=candidates, quarantined=candidates.limit(0), failed=[], warnings=[], routed=[],
                      summary=dict(SKIPPED))


def promote_without_gate(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """`bronze_to_silver.promote` minus the quality-gate step (so its report has no `quality_gate` phase)."""
    clock = PhaseClock()
    batch = bronze_to_silver.prepare_batch(spark, ctx, args, clock)
    try:
        return bronze_to_silver.publish_batch(spark, batch, skipped_gate(batch.candidates), clock)
    finally:
        batch.release()


def run_bronze_to_silver(spark: SparkSession, args: dict[str, Any], gate: bool = True) -> dict[str, Any]:
    """The job as Glue runs it (`gate`), or the same steps without the gate; returns the report."""
    if gate:
        return bronze_to_silver.run(spark, args)
    return run_job(bronze_to_silver.JOB_NAME, args, lambda ctx: promote_without_gate(spark, ctx, args),
                   retry_on_conflict=True, report_name=bronze_to_silver.report_name)
