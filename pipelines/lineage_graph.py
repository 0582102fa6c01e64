"""`lakehouse lineage`: the upstream chain of a model or table, read from the lake's OpenLineage events.

A table at an Iceberg snapshot holds what every run that committed to it up to that snapshot wrote, so
the upstream of `(table, snapshot S)` is every recorded run that wrote the table no later than the run
that made S (only the latest run per partition, where the reader names the partitions it read). The
walk goes model → training set snapshot → customer_features → silver tables → bronze files.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jobs import storage
from jobs.lake import LakeLayout

PARTITIONS = "lakehouse_partitions"


@dataclass(frozen=True)
class Written:
    """One dataset one completed job run wrote."""

    event: dict[str, Any]
    dataset: dict[str, Any]

    @property
    def time(self) -> str:
        return self.event["eventTime"]

    @property
    def version(self) -> str | None:
        return version_of(self.dataset)

    @property
    def partitions(self) -> set[str]:
        return set((self.dataset.get("facets") or {}).get(PARTITIONS, {}).get("partitions") or [])

    @property
    def label(self) -> str:
        run = (self.event["run"].get("facets") or {}).get("lakehouse_run") or {}
        return f"{self.event['job']['name']} (run {run.get('runId', self.event['run']['runId'])})"


def version_of(dataset: dict[str, Any]) -> str | None:
    return ((dataset.get("facets") or {}).get("version") or {}).get("datasetVersion")


def read_events(layout: LakeLayout) -> list[dict[str, Any]]:
    return [json.loads(storage.read_text(path)) for path in storage.list_files(layout.lineage_root(), (".json",))]


@dataclass
class Chain:
    lines: list[str] = field(default_factory=list)
    bronze_files: set[str] = field(default_factory=set)


class LineageGraph:
    def __init__(self, events: Iterable[dict[str, Any]]):
        completed = sorted((e for e in events if e.get("eventType") == "COMPLETE"), key=lambda e: e["eventTime"])
        self.writers: dict[str, list[Written]] = {}
        for event in completed:
            for output in event.get("outputs") or []:
                self.writers.setdefault(output["name"], []).append(Written(event, output))

    def resolve(self, name: str) -> str:
        for candidate in (name, f"models/{name}"):
            if candidate in self.writers:
                return candidate
        known = ", ".join(sorted(self.writers)) or "none (no lineage events recorded yet)"
        raise LookupError(f"no lineage recorded for {name!r}; datasets with lineage: {known}")

    def writers_of(self, dataset: dict[str, Any], until: str) -> list[Written]:
        """The runs whose writes the reader of `dataset` (in an event at `until`) saw."""
        runs = [w for w in self.writers.get(dataset["name"], []) if w.time <= until]
        version = version_of(dataset)
        exact = [w for w in runs if version is not None and w.version == version]
        if exact:
            runs = [w for w in runs if w.time <= exact[-1].time]
        wanted = set((dataset.get("facets") or {}).get(PARTITIONS, {}).get("partitions") or [])
        if wanted and all(w.partitions for w in runs):
            latest = {p: w for w in runs for p in w.partitions & wanted}  # time order: the last one wins
            runs = [w for w in runs if w in latest.values()]
        return runs

    def chain(self, name: str) -> Chain:
        target = self.writers[self.resolve(name)][-1]
        out = Chain()
        version = f" version {target.version}" if target.version else ""
        out.lines.append(f"{target.dataset['name']}{version}  ← {target.label}")
        self._expand(target, 1, out, set())
        return out

    def _expand(self, written: Written, depth: int, out: Chain, seen: set[str]) -> None:
        if written.event["run"]["runId"] in seen:
            return
        seen.add(written.event["run"]["runId"])
        indent = "  " * depth
        for dataset in written.event.get("inputs") or []:
            writers = self.writers_of(dataset, written.time)
            version = version_of(dataset)
            at = f" @ snapshot {version}" if version else ""
            if not writers and "ingest_date=" in dataset["name"]:  # a bronze file: nothing in the lake wrote it
                out.bronze_files.add(dataset["name"])
                out.lines.append(f"{indent}bronze file {dataset['name']}")
                continue
            runs = ", ".join(w.label for w in writers) or "no recorded run"
            out.lines.append(f"{indent}{dataset['name']}{at}  ← {runs}")
            for writer in writers:
                self._expand(writer, depth + 1, out, seen)


def lineage_lines(lake_root: str, name: str) -> list[str]:
    chain = LineageGraph(read_events(LakeLayout.from_root(str(lake_root)))).chain(name)
    return [*chain.lines, "", f"bronze files ({len(chain.bronze_files)}):",
            *[f"  {path}" for path in sorted(chain.bronze_files)]]
