"""Glue workers and DPU-hours for a daily bronze volume, from throughput measured here.

The arithmetic, each assumption named:
- throughput per core = bronze bytes / job seconds / local cores, taken from the largest size of the
  scale curve (fixed cost amortised: the closest to a large day);
- a Glue worker's vCPU does the work of one local core (`VCPU_EFFICIENCY`; these machines are
  shared cloud vCPUs too), and one worker of each job run is the Spark driver, not an executor;
- G.1X = 4 vCPU, 16 GB, 1 DPU; G.2X = 8 vCPU, 32 GB, 2 DPU (AWS Glue worker types);
- the day must be promoted within the window (the seed's RPO: 1 hour), with `HEADROOM` spare for
  retries, skew and a late file;
- price per DPU-hour is a parameter (us-east-1 list price for Glue 5.0 Spark jobs, $0.44).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

WORKER_TYPES = {"G.1X": (4, 1), "G.2X": (8, 2)}  # vCPU, DPU per worker
VCPU_EFFICIENCY = 1.0
HEADROOM = 1.5
PRICE_PER_DPU_HOUR = 0.44


@dataclass(frozen=True)
class Sizing:
    worker_type: str
    workers: int
    executor_vcpus: int
    hours: float
    dpu_hours: float
    cost_usd: float


def size_for(daily_bytes: float, bytes_per_s_per_core: float, worker_type: str, window_hours: float = 1.0,
             headroom: float = HEADROOM) -> Sizing:
    """The fewest workers of `worker_type` that promote `daily_bytes` within `window_hours` / headroom."""
    vcpus, dpus = WORKER_TYPES[worker_type]
    needed_rate = daily_bytes * headroom / (window_hours * 3600)
    executor_vcpus_needed = needed_rate / (bytes_per_s_per_core * VCPU_EFFICIENCY)
    workers = math.ceil(executor_vcpus_needed / vcpus) + 1  # + the driver
    executor_vcpus = (workers - 1) * vcpus
    hours = daily_bytes / (bytes_per_s_per_core * VCPU_EFFICIENCY * executor_vcpus) / 3600
    dpu_hours = workers * dpus * hours
    return Sizing(worker_type, workers, executor_vcpus, hours, dpu_hours, dpu_hours * PRICE_PER_DPU_HOUR)


def sizing_lines(daily_bytes: float, bronze_bytes: int, seconds: float, cores: int) -> list[str]:
    """Markdown: the measured rate and what it takes on each worker type."""
    per_core = bronze_bytes / seconds / cores
    lines = [
        f"Measured: {bronze_bytes / 1e6:,.0f} MB of bronze in {seconds:.1f} s on {cores} cores = "
        f"**{per_core / 1e6:.2f} MB/s per core** (bronze_to_silver, PII and gate included).",
        f"Needed for {daily_bytes / 1e9:,.0f} GB a day within the 1-hour window with {HEADROOM}× headroom: "
        f"{daily_bytes * HEADROOM / 3600 / 1e6:,.1f} MB/s = {daily_bytes * HEADROOM / 3600 / per_core:,.0f} "
        "executor vCPUs.",
        "",
        "| worker type | workers (1 is the driver) | executor vCPUs | hours for the day | DPU-hours a day | "
        "cost a day (at $0.44/DPU-h) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for worker_type in WORKER_TYPES:
        s = size_for(daily_bytes, per_core, worker_type)
        lines.append(f"| {s.worker_type} | {s.workers} | {s.executor_vcpus} | {s.hours:.2f} | {s.dpu_hours:.1f} | "
                     f"${s.cost_usd:,.2f} |")
    return lines
