"""What the lake holds, layer by layer, and where to look: printed after runs and by `make run`."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import Any

from jobs.lake import LakeLayout
from jobs.storage import list_files, list_subdirs, read_json
from jobs.text_table import render_table


def _count_lines(path: str) -> int:
    with open(path, "rb") as handle:
        return sum(1 for line in handle if line.strip())


def layer_summary(lake_root: Path) -> list[str]:
    """One line per table: files/partitions and rows, read from file metadata (no Spark needed)."""
    layout = LakeLayout.from_root(str(lake_root))
    lines = [f"Lake at {Path(lake_root).resolve()}"]
    lines.append(f"  bronze      {layout.bronze}")
    bronze = []
    for dataset in list_subdirs(layout.bronze):
        files = list_files(layout.bronze_dataset(dataset))
        ingests = len(list_subdirs(layout.bronze_dataset(dataset)))
        # Lines of the plain files (a CSV header is not a record); compressed files are not opened here.
        plain = [f for f in files if f.endswith((".csv", ".jsonl", ".json", ".ndjson"))]
        records = sum(_count_lines(f) for f in plain) - sum(1 for f in plain if f.endswith(".csv"))
        bronze.append((dataset, ingests, len(files), f"{records:,}"))
    if bronze:
        lines += render_table(("dataset", "ingest dates", "files", "records"), bronze,
                              right=("ingest dates", "files", "records"), indent=4).splitlines()
    lines.append(f"  tables      {layout.catalog}/iceberg.db (Iceberg catalog: silver, gold, quarantine)")
    try:
        from pipelines.lake_tables import open_local, tables_table

        lines += tables_table(open_local(lake_root), indent=4).splitlines()
    except LookupError as missing:
        lines.append(f"    {missing}")
    lines.append("    `lakehouse history TABLE`: a table's snapshots; `lakehouse rollback --run RUN_ID`: undo a run")
    return lines


def run_heading(pipeline: str, run_date: Any, run_id: str, status: str, duration_seconds: float | None = None) -> str:
    """The first line printed for a run: `ingestion 2024-01-03 run ingestion-2024-01-03: SUCCEEDED in 48s`."""
    duration = took(duration_seconds)
    return f"{pipeline} {run_date} run {run_id}: {status}" + (f" in {duration}" if duration else "")


def manifest_lines(manifest: dict[str, Any]) -> list[str]:
    lines = [run_heading(manifest["pipeline"], manifest["run_date"], manifest["run_id"], manifest["status"],
                         manifest.get("duration_seconds"))]
    for name, counts in manifest.get("datasets", {}).items():
        reasons = Counter(counts.get("quarantined_by_reason", {}))
        top = ", ".join(f"{reason} {n}" for reason, n in reasons.most_common(3))
        lines.append(f"  {name:<16} bronze {counts['bronze_rows']:>9,} = silver {counts['silver_rows']:>9,}"
                     f" + quarantined {counts['quarantined_rows']:>7,} + duplicates {counts['duplicate_rows']:>7,}"
                     + (f"   [{top}]" if top else ""))
        lines += [f"    {line}" for line in file_outcome_lines(counts.get("files", []))]
    for job, report in manifest.get("jobs", {}).items():
        tables = report.get("tables", {})
        if tables:
            shown = ", ".join(f"{t} {info.get('rows_written', 0):,} rows" for t, info in tables.items())
            lines.append(f"  {job:<16} {shown}")
        if report.get("drift_report"):
            lines.append(f"  {'drift':<16} {report.get('verdict')}: report {report['drift_report']}")
    if manifest.get("error"):
        lines.append(f"  error: {manifest['error']}")
    return lines


def file_outcome_lines(files: list[dict[str, Any]]) -> list[str]:
    """A dataset's bronze files that were not read as rows: quarantined whole (named, with size, checksum
    and reason), then a count of the empty and skipped ones."""
    lines = [f"quarantined whole: {f['file']} ({f.get('size', 0):,} bytes, sha256 {str(f.get('sha256'))[:12]}): "
             f"{f.get('reason')}" for f in files if f.get("outcome") == "quarantined"]
    others = Counter(f["outcome"] for f in files if f.get("outcome") in ("empty", "header_only", "skipped"))
    if others:
        lines.append("files not read: " + ", ".join(f"{n} {outcome.replace('_', '-')}" for outcome, n in
                                                   sorted(others.items())))
    return lines


def quarantined_files_lines(lake_root: Path, run_date: str) -> list[str]:
    """`lakehouse quality`: every bronze file a run of the date quarantined whole, from the job reports."""
    layout = LakeLayout.from_root(str(lake_root))
    reports = [read_json(path) for path in list_files(f"{layout.ops}/runs", (".json",))
               if f"/run_date={run_date}/" in path]
    lines = []
    for report in sorted(reports, key=lambda r: (str(r.get("dataset")), str(r.get("run_id")))):
        if report.get("job") != "bronze_to_silver":
            continue
        lines += [f"  {report['dataset']:<16} {report['run_id']}  {line}"
                  for line in file_outcome_lines(report.get("files", [])) if line.startswith("quarantined")]
    if not lines:
        return [f"no bronze file quarantined whole for run date {run_date}"]
    return [f"bronze files quarantined whole for run date {run_date} ({len(lines)}):", *lines]


def recent_manifests(lake_root: Path, limit: int = 20, pipeline: str | None = None,
                     status: str | None = None) -> list[dict[str, Any]]:
    """The latest `limit` run manifests, newest first; only one pipeline's, or one status's, if given."""
    layout = LakeLayout.from_root(str(lake_root))
    root = layout.manifests_root() if pipeline is None else f"{layout.manifests_root()}/{pipeline}"
    manifests = [read_json(p) for p in list_files(root, (".json",))]
    if status is not None:
        manifests = [m for m in manifests if m.get("status") == status]
    manifests.sort(key=lambda m: (m.get("finished_at") or "", m.get("run_id") or ""), reverse=True)
    return manifests[:limit]


STATUS_COLUMNS = ("finished", "pipeline", "run date", "status", "took", "run id", "what it did")


def status_table(manifests: list[dict[str, Any]]) -> str:
    """One row per run: when, which, how it ended, and what it did (see `run_outcome`), then its error."""
    def row(manifest: dict[str, Any]) -> tuple[str, ...]:
        error = f"  {str(manifest['error'])[:160]}" if manifest.get("error") else ""
        return (manifest.get("finished_at", "?"), manifest["pipeline"], manifest["run_date"], manifest["status"],
                took(manifest.get("duration_seconds")), manifest["run_id"], f"{run_outcome(manifest)}{error}".strip())

    return render_table(STATUS_COLUMNS, [row(m) for m in manifests], right=("took",))


def took(seconds: float | None) -> str:
    """A run's duration for a status line: `48s`, `12m05s`, `2h03m`; blank when unknown."""
    if seconds is None:
        return ""
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def run_outcome(manifest: dict[str, Any]) -> str:
    """What a run did, in the terms of its pipeline: rows for a promotion, the model's verdict for a
    training run, tables written otherwise (batch inference); empty when a run failed before any of it."""
    jobs = manifest.get("jobs", {})
    if manifest.get("datasets"):
        totals = manifest.get("totals", {})
        return (f"bronze {totals.get('bronze_rows', 0):,} silver {totals.get('silver_rows', 0):,} "
                f"quarantined {totals.get('quarantined_rows', 0):,} duplicates {totals.get('duplicate_rows', 0):,}")
    if isinstance(jobs.get("evaluate_model", {}).get("auc"), float | int):
        evaluation = jobs["evaluate_model"]
        versus = [f"{name} {evaluation[field]:.3f}" for name, field in (("baseline", "baseline_auc"),
                                                                       ("champion", "champion_auc"))
                  if evaluation.get(field) is not None]
        decision = jobs.get("record_model", {}).get("decision", "no decision recorded")
        return f"model AUC {evaluation['auc']:.3f}" + (f" vs {', '.join(versus)}" if versus else "") + f": {decision}"
    if isinstance(jobs.get("maintain_tables", {}).get("maintained"), list):
        return maintenance_outcome(jobs["maintain_tables"]["maintained"])
    written = [f"{table} {info.get('rows_written', 0):,} rows" for report in jobs.values()
               for table, info in report.get("tables", {}).items()]
    flagged = [report["flagged"] for report in jobs.values() if isinstance(report.get("flagged"), int)]
    return ", ".join(written) + (f" ({sum(flagged):,} flagged)" if flagged else "")


def maintenance_outcome(tables: list[dict[str, Any]]) -> str:
    """A maintenance run in one phrase: tables, rows deleted by retention, files compacted, snapshots
    expired, orphan files removed, and the tables that failed."""
    def total(field: str) -> int:
        return sum(int(t.get(field) or 0) for t in tables)

    failed = [t["table"] for t in tables if t.get("error")]
    return (f"{len(tables)} tables: {total('rows_deleted'):,} rows past retention deleted, "
            f"{total('files_compacted'):,} files compacted, {total('snapshots_expired'):,} snapshots expired, "
            f"{sum(len(t.get('orphan_files') or []) for t in tables):,} orphan files removed"
            + (f"; FAILED: {', '.join(failed)}" if failed else ""))


def model_run_lines(lake_root: Path, pipeline: str, run_id: str, run_date: str) -> list[str]:
    """What a training run decided (metrics against the baseline) or what batch inference wrote."""
    from jobs.ml.artifacts import DEFAULT_MODEL_NAME

    layout = LakeLayout.from_root(str(lake_root))
    if pipeline == "training":
        folder = Path(layout.model_version(DEFAULT_MODEL_NAME, run_id))
        if not (folder / "metrics.json").exists():
            return [f"  no metrics written (see {folder})"]
        metrics = read_json(str(folder / "metrics.json"))
        decision = read_json(str(folder / "decision.json")).get("decision") if (folder / "decision.json").exists() \
            else "undecided"
        baseline = metrics.get("baseline") or {}
        window = " to ".join(metrics.get("holdout_window", [])) or "?"
        return [f"  model {run_id}: held-out AUC {metrics['auc']:.3f} vs baseline {baseline.get('name')} "
                f"{baseline.get('auc', float('nan')):.3f} on {metrics['rows']:,} rows ({metrics['positives']} fraud, "
                f"{window}); precision {metrics['precision']:.2f} / recall {metrics['recall']:.2f} at "
                f"{metrics['threshold']}; {decision}",
                f"  registry: {folder}"]
    from pipelines.lake_tables import open_local, to_pandas

    try:
        scores = len(to_pandas(open_local(lake_root), "gold.fraud_scores", row_filter=f"event_date = '{run_date}'"))
    except LookupError:
        scores = 0
    return [f"  gold fraud_scores for {run_date}: {scores:,} scores  ({layout.gold_table('fraud_scores')})",
            *drift_lines(layout, run_id, run_date)]


def drift_lines(layout: LakeLayout, run_id: str, run_date: str) -> list[str]:
    """Where a batch-inference run's drift report is, and its verdict (like Data Docs for quality)."""
    path = layout.job_report("batch_inference", date.fromisoformat(run_date), run_id, "feature_drift")
    if not Path(path).exists():
        return []
    report = read_json(path)
    drift = report.get("drift", {})
    if not report.get("drift_report"):
        return [f"  feature drift {run_date}: not measured ({drift.get('why', report.get('verdict'))})"]
    return [f"  feature drift {run_date}: {report.get('verdict')} (past a threshold: {drift.get('crossed', 'none')}); "
            f"lakehouse drift --date {run_date}",
            f"  drift report: {report['drift_report']}"]
