"""What every job resolves from its arguments: where it runs (jobs/environment.py), the run's date and id."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from jobs.environment import JobEnvironment, environment_of
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
    env: JobEnvironment = field(compare=False, repr=False)

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> JobContext:
        """The run's date and pipeline from `args`; its layout and id from the environment the entry point
        built (or one built now, for a job called directly)."""
        run_date = parse_date(str(args.get("run_date")))
        env = environment_of(args)
        return cls(env.layout, run_date, env.run_id, str(args.get("pipeline") or "ingestion"), env)
