"""What a generation run wrote: rows and flaws per dataset per ingest date."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jobs.text_table import render_table


@dataclass
class DatasetDayReport:
    dataset: str
    ingest_date: date
    files: list[str]  # relative to the lake root
    rows_written: int  # data lines over all files (CSV headers excluded), flawed ones included
    flaws: dict[str, int] = field(default_factory=dict)  # empty for a clean run

    def to_dict(self) -> dict[str, object]:
        return {"dataset": self.dataset, "ingest_date": self.ingest_date.isoformat(), "files": self.files,
                "rows_written": self.rows_written, "flaws": dict(self.flaws)}


@dataclass
class GenerationReport:
    lake_root: Path
    start: date
    days: int
    rows_per_day: int
    seed: int
    dirty: bool
    drift_from: date | None = None  # transactions shifted from this date (`--drift-from`)
    entries: list[DatasetDayReport] = field(default_factory=list)
    fraud_rows: int = 0  # generated transactions labelled is_fraud=true (before any flaw)
    elapsed_seconds: float = 0.0

    def entry(self, dataset: str, ingest_date: date) -> DatasetDayReport:
        for item in self.entries:
            if item.dataset == dataset and item.ingest_date == ingest_date:
                return item
        raise KeyError((dataset, ingest_date))

    def rows(self, dataset: str, ingest_date: date | None = None) -> int:
        return sum(e.rows_written for e in self.entries
                   if e.dataset == dataset and ingest_date in (None, e.ingest_date))

    def flaw_count(self, dataset: str, flaw: str, ingest_date: date | None = None) -> int:
        return sum(e.flaws.get(flaw, 0) for e in self.entries
                   if e.dataset == dataset and ingest_date in (None, e.ingest_date))

    def to_dict(self) -> dict[str, object]:
        return {
            "lake_root": str(self.lake_root), "start": self.start.isoformat(), "days": self.days,
            "rows_per_day": self.rows_per_day, "seed": self.seed, "dirty": self.dirty,
            "drift_from": self.drift_from.isoformat() if self.drift_from else None,
            "fraud_rows": self.fraud_rows, "elapsed_seconds": round(self.elapsed_seconds, 3),
            "entries": [e.to_dict() for e in self.entries],
        }

    def render(self) -> str:
        """A table for people: rows (and flaws) per dataset and ingest date."""
        drifted = f", drifted from {self.drift_from}" if self.drift_from else ""
        lines = [f"generated {self.days} day(s) from {self.start} into {self.lake_root} (seed {self.seed}"
                 f"{', dirty' if self.dirty else ''}{drifted}) in {self.elapsed_seconds:.1f} s",
                 render_table(("ingest_date", "dataset", "rows", "flaws"), [
                     (e.ingest_date.isoformat(), e.dataset, f"{e.rows_written:,}",
                      ", ".join(f"{name}={count}" for name, count in e.flaws.items()) or "-") for e in self.entries],
                     right=("rows",))]
        lines.append(f"fraud-labelled transactions: {self.fraud_rows:,}; labels under {self.lake_root / '_labels'}")
        return "\n".join(lines)
