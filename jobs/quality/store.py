"""Validation results kept with the run, as JSON, locally or on S3.

`<ops_root>/quality/results/<layer>/<dataset>/run_date=YYYY-MM-DD/<run_id>.json` holds Great
Expectations' own `ExpectationSuiteValidationResult` (loadable back into GE, which is how Data Docs
are rendered) with the gate's view under `meta.lakehouse`: severities' outcome, schema issues,
skipped expectations, quarantine counts and the manifest summary.
"""

from __future__ import annotations

from typing import Any

from jobs import storage

RESULTS_DIR = "quality/results"
GATE_META_KEY = "lakehouse"


def _join(*parts: str) -> str:
    return "/".join([parts[0].rstrip("/"), *[p.strip("/") for p in parts[1:]]])


def results_root(ops_root: str) -> str:
    return _join(ops_root, RESULTS_DIR)


def result_path(ops_root: str, layer: str, dataset: str, run_date: str, run_id: str) -> str:
    return _join(results_root(ops_root), layer, dataset, f"run_date={run_date}", f"{run_id}.json")


def save_result(path: str, document: dict[str, Any]) -> None:
    storage.write_json(path, document)


def gate_meta(document: dict[str, Any]) -> dict[str, Any]:
    return (document.get("meta") or {}).get(GATE_META_KEY) or {}


def _run_dates(suite_folder: str) -> list[str]:
    return sorted(d.split("=", 1)[1] for d in storage.list_subdirs(suite_folder) if d.startswith("run_date="))


def _read_all(files: list[str]) -> list[dict[str, Any]]:
    documents = []
    for path in files:
        document = storage.read_json(path)
        document.setdefault("meta", {}).setdefault(GATE_META_KEY, {})["result_path"] = path
        documents.append(document)
    return documents


def _suite_folders(ops_root: str) -> list[tuple[str, str, str]]:
    root = results_root(ops_root)
    return [(layer, dataset, _join(root, layer, dataset))
            for layer in storage.list_subdirs(root) for dataset in storage.list_subdirs(_join(root, layer))]


def _order_key(document: dict[str, Any]) -> tuple[str, str]:
    meta = gate_meta(document)
    return str(meta.get("run_date", "")), str((document.get("meta") or {}).get("validation_time", ""))


def results_for_run_date(ops_root: str, run_date: str) -> list[dict[str, Any]]:
    """Every stored result of one run date, ordered by layer, dataset, then validation time."""
    documents = []
    for _layer, _dataset, folder in _suite_folders(ops_root):
        documents += sorted(_read_all(storage.list_files(_join(folder, f"run_date={run_date}"), (".json",))),
                            key=_order_key)
    return documents


def latest_results(ops_root: str) -> list[dict[str, Any]]:
    """The most recent stored result of every (layer, dataset): latest run date, then latest run."""
    latest = []
    for _layer, _dataset, folder in _suite_folders(ops_root):
        dates = _run_dates(folder)
        if not dates:
            continue
        documents = _read_all(storage.list_files(_join(folder, f"run_date={dates[-1]}"), (".json",)))
        if documents:
            latest.append(max(documents, key=_order_key))
    return latest
