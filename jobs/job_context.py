"""What every job resolves from its arguments: the lake layout, the run's date and id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from jobs.lake import LakeLayout

# Arguments every job accepts (Glue passes them as --name value); all optional.
COMMON_OPTIONAL_ARGS: dict[str, str | None] = {
    "run_id": None,
    "pipeline": "ingestion",
    "lake_root": None,
    "bronze_root": None,
    "silver_root": None,
    "gold_root": None,
    "quarantine_root": None,
    "ops_root": None,
    "catalog_root": None,  # the embedded Iceberg catalog's folder (default <lake_root>/catalog)
    "catalog": None,  # local | glue (default: glue on AWS Glue, local elsewhere; jobs/tables.py)
    "glue_database": None,  # the Glue database holding the Iceberg tables (set by the deployed jobs)
    "lineage": None,  # on | off: OpenLineage events for the run (default on; jobs/lineage/transport.py)
    "lineage_url": None,  # the OpenLineage HTTP endpoint (e.g. Marquez); default: files under ops/lineage/
}


def parse_date(value: str, name: str = "run_date") -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"--{name} must be a date as YYYY-MM-DD, got {value!r}") from None


def parse_flag(value: Any) -> bool:
    """A job's yes/no argument as Glue passes it (a string)."""
    return str(value).strip().lower() in {"1", "true", "yes", "y"}


@dataclass(frozen=True)
class JobContext:
    layout: LakeLayout
    run_date: date
    run_id: str
    pipeline: str

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> JobContext:
        run_date = parse_date(str(args.get("run_date")))
        run_id = args.get("run_id") or f"manual-{datetime.now(UTC):%Y%m%dT%H%M%S}"
        return cls(LakeLayout.from_args(args), run_date, str(run_id), str(args.get("pipeline") or "ingestion"))
