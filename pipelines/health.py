"""`lakehouse status --metrics [--plot PATH]`: the pipeline-health trend from `ops/metrics/`.

One row per run, oldest first, read from the MetricData lines finalize_run appended (the same data
CloudWatch receives on AWS), and optionally a PNG chart of rows in/out, quarantined and duration.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jobs import run_metrics as rm
from jobs.text_table import render_table

COLUMNS = ("run", "status", "bronze_in", "silver_out", "quarantined", "quarantined_%", "duplicates", "gold_out",
           "gates_failed", "seconds")


@dataclass(frozen=True)
class RunHealth:
    run_id: str
    pipeline: str
    timestamp: str
    status: str
    bronze_in: int
    silver_out: int
    quarantined: int
    duplicates: int
    gold_out: int
    gates_failed: int
    seconds: float | None

    @property
    def quarantined_percent(self) -> float | None:
        return 100.0 * self.quarantined / self.bronze_in if self.bronze_in else None


def run_health(line: dict[str, Any]) -> RunHealth:
    """One run's row from its metrics line (run-level totals, gold rows and gate verdicts summed)."""
    run_level: dict[str, float] = {}
    gold = gates = 0.0
    pipeline, timestamp = "?", ""
    for datum in line["MetricData"]:
        dimensions = {d["Name"]: d["Value"] for d in datum["Dimensions"]}
        pipeline, timestamp = dimensions.get(rm.PIPELINE_DIMENSION, pipeline), datum["Timestamp"]
        if dimensions.get(rm.DATASET_DIMENSION) == rm.RUN_SCOPE:
            run_level[datum["MetricName"]] = datum["Value"]
        elif datum["MetricName"] == rm.GOLD_ROWS:
            gold += datum["Value"]
        elif datum["MetricName"] == rm.GATE_FAILED:
            gates += datum["Value"]
    return RunHealth(
        run_id=str(line["RunId"]), pipeline=pipeline, timestamp=timestamp,
        status="FAILED" if run_level.get(rm.RUN_FAILED) else "SUCCEEDED",
        bronze_in=int(run_level.get(rm.BRONZE_ROWS, 0)), silver_out=int(run_level.get(rm.SILVER_ROWS, 0)),
        quarantined=int(run_level.get(rm.QUARANTINED_ROWS, 0)), duplicates=int(run_level.get(rm.DUPLICATE_ROWS, 0)),
        gold_out=int(gold), gates_failed=int(gates), seconds=run_level.get(rm.RUN_DURATION))


def load(ops_root: str | Path, pipeline: str | None = None, limit: int | None = None) -> list[RunHealth]:
    runs = [run_health(line) for line in rm.read_local(ops_root)]
    runs = [run for run in runs if pipeline is None or run.pipeline == pipeline]
    runs.sort(key=lambda run: run.timestamp)
    return runs[-limit:] if limit else runs


def table(runs: Sequence[RunHealth]) -> str:
    def cells(run: RunHealth) -> list[str]:
        percent = run.quarantined_percent
        return [run.run_id, run.status, str(run.bronze_in), str(run.silver_out), str(run.quarantined),
                "-" if percent is None else f"{percent:.1f}", str(run.duplicates), str(run.gold_out),
                str(run.gates_failed), "-" if run.seconds is None else f"{run.seconds:.1f}"]

    return render_table(COLUMNS, [cells(run) for run in runs], right=COLUMNS[2:])


def plot(runs: Sequence[RunHealth], path: str | Path) -> Path:
    """Rows in/out and quarantined (left axis) and duration (right axis) per run, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers or in CI
    import matplotlib.pyplot as plt

    if not runs:
        raise ValueError("no runs to plot: ops/metrics/ holds no metrics yet (run a pipeline first)")
    labels = [run.run_id for run in runs]
    positions = range(len(runs))
    figure, rows_axis = plt.subplots(figsize=(max(6.0, 1.2 * len(runs)), 4.5))
    for values, label, marker in (([r.bronze_in for r in runs], "bronze rows in", "o"),
                                  ([r.silver_out for r in runs], "silver rows out", "s"),
                                  ([r.gold_out for r in runs], "gold rows out", "^")):
        rows_axis.plot(positions, values, marker=marker, label=label)
    rows_axis.bar(positions, [r.quarantined for r in runs], width=0.4, alpha=0.5, color="tab:red", label="quarantined")
    rows_axis.set_ylabel("rows")
    rows_axis.set_xticks(list(positions), labels, rotation=30, ha="right", fontsize=8)
    seconds_axis = rows_axis.twinx()
    seconds_axis.plot(positions, [r.seconds or 0 for r in runs], linestyle="--", marker="x", color="tab:gray",
                      label="duration (s)")
    seconds_axis.set_ylabel("seconds")
    handles = rows_axis.get_legend_handles_labels()
    extra = seconds_axis.get_legend_handles_labels()
    rows_axis.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=8, loc="upper left")
    rows_axis.set_title("Pipeline health per run")
    figure.tight_layout()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(target, format="png", dpi=100)
    plt.close(figure)
    return target
