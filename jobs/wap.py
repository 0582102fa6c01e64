"""Write-audit-publish across a run's tables: the audit's refusal, then one publish per table.

Each table a run writes gets one staged snapshot (`jobs.tables.stage_overwrite`). The run audits them
all (reconciliation, the quality gate's `fail` verdict) before it publishes any, so a refusal leaves
every table's `main` exactly as it was. Publishing is then one cherry-pick per table, milliseconds
apart; a crash between two of them leaves the later tables on their old snapshot, and re-running the
date (idempotent) completes them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pyspark.sql import SparkSession

from jobs.tables import StagedSnapshotRefused, StagedWrite, TableConflictError, publish

if TYPE_CHECKING:
    from jobs.quality.gate import GateResult


def refuse_if_failed(gate: GateResult | None, staged: StagedWrite) -> None:
    """A `fail` verdict refuses the staged snapshot: the error names it and the snapshot main kept."""
    if gate is None or not gate.failed:
        return
    from jobs.quality import QualityGateFailed

    verdict = QualityGateFailed(gate.summary["suite"], gate.failed, gate.summary.get("result_path"))
    raise StagedSnapshotRefused(
        f"{verdict}\nstaged snapshot {staged.staged_snapshot} of table {staged.ref.display} refused: main left at "
        f"snapshot {staged.snapshot_before}; nothing of run {staged.run_id} was published") from verdict


def publish_all(spark: SparkSession, staged: Sequence[StagedWrite]) -> dict[str, dict[str, Any]]:
    """Publish every audited snapshot; per table: the snapshot main pointed at before and after."""
    return {write.ref.display: {"snapshot_before": write.snapshot_before,
                                "snapshot_after": publish(spark, write),
                                "staged_snapshot": write.staged_snapshot,
                                "location": write.ref.location, "table": write.ref.display}
            for write in staged}


CONFLICT_ATTEMPTS = 3


def retry_on_conflict(job: Callable[[], dict[str, Any]], attempts: int = CONFLICT_ATTEMPTS) -> dict[str, Any]:
    """Run `job`; when another run committed to one of its tables first (TableConflictError), run it
    again from the start, so it reads the new snapshot. Jobs are idempotent, so the retry computes the
    content the lake should hold. After `attempts`, the conflict is raised (it names table and run)."""
    for attempt in range(1, attempts + 1):
        try:
            report = job()
        except TableConflictError as conflict:
            if attempt == attempts:
                raise
            print(f"retrying (attempt {attempt + 1} of {attempts}): {conflict}", file=sys.stderr)
            continue
        report["conflict_retries"] = attempt - 1
        return report
    raise AssertionError("unreachable")
