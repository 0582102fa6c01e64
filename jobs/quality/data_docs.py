"""Data Docs: a static HTML site inside the lake, rendered from the stored validation results.

Great Expectations renders one page per validation result (and per suite) into the site root
(`<ops_root>/data_docs` by default). GE 1.x only writes sites to a filesystem, so for an
`s3://bucket/prefix` root on AWS the pages are rendered into the storage's working folder (a temporary
folder, uploaded after; the 4 MB of static assets only when the site has none yet). GE's own index page
draws its table with JavaScript from CDNs, which does not work offline, so the site's `index.html` is written here as
plain HTML: one row per suite with its latest result, linking to GE's page.
The stored JSON results are the source of truth; the site can be rebuilt from them at any time.
"""

from __future__ import annotations

import contextlib
import html
from datetime import datetime
from pathlib import Path
from typing import Any

from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from jobs import storage
from jobs.quality import store
from jobs.quality.gx_runtime import quiet_context
from jobs.quality.suites import SuiteError, load_suite
from jobs.storage import Storage

SITE_NAME = "lakehouse"
DOCS_DIR = "data_docs"
INDEX_TITLE = "Lakehouse data quality"
STATIC_ASSETS = "static/"  # GE's 4 MB of scripts and styles, the same for every build


def default_site_root(ops_root: str) -> str:
    return ops_root.rstrip("/") + "/" + DOCS_DIR


def _site_config(local_root: str) -> dict[str, Any]:
    return {"class_name": "SiteBuilder", "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": local_root},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"}}


def result_key(document: dict[str, Any]) -> ValidationResultIdentifier:
    meta = store.gate_meta(document)
    run_time = datetime.fromisoformat(str(document["meta"]["validation_time"]))
    return ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=document["suite_name"]),
        run_id=RunIdentifier(run_name=str(meta.get("run_id")), run_time=run_time),
        batch_identifier=f"{meta.get('dataset')}-{meta.get('run_date')}")


def _relative(url: str | None, base: str) -> str | None:
    if not url:
        return None
    return url[len(base):] if url.startswith(base) else url


def _docs_context(local_root: str) -> Any:
    context = quiet_context()
    context.add_data_docs_site(SITE_NAME, _site_config(local_root))
    return context


def _render(context: Any, documents: list[dict[str, Any]], suites_directory: Path | None) -> None:
    """Have GE render the page of each result (and of its suite) into the site."""
    for document in documents:
        meta = store.gate_meta(document)
        # A suite no longer shipped (or already added) still has its results rendered.
        with contextlib.suppress(SuiteError, ValueError):
            suite = load_suite(str(meta.get("layer")), str(meta.get("dataset")), suites_directory)
            context.suites.add(suite.to_gx_suite())
        result = ExpectationSuiteValidationResultSchema().load(document)
        context.validation_results_store.set(result_key(document), result)
    if documents:
        context.build_data_docs(site_names=[SITE_NAME], build_index=False)


def _page_paths(context: Any, documents: list[dict[str, Any]]) -> dict[str, str]:
    """{suite name: path of its result's GE page relative to the site root}, from GE's own layout."""
    index_url = context.get_docs_sites_urls(site_name=SITE_NAME, only_if_exists=False)[0]["site_url"] or ""
    base = index_url.rsplit("/", 1)[0] + "/"
    pages = {}
    for document in documents:
        found = context.get_docs_sites_urls(resource_identifier=result_key(document), site_name=SITE_NAME,
                                            only_if_exists=False)
        pages[document["suite_name"]] = _relative(found[0]["site_url"], base) or ""
    return pages


def _cell(value: Any, css: str | None = None) -> str:
    attribute = f' class="{css}"' if css else ""
    return f"<td{attribute}>{html.escape(str(value))}</td>"


def index_html(documents: list[dict[str, Any]], pages: dict[str, str]) -> str:
    rows = []
    for document in sorted(documents, key=lambda d: d["suite_name"]):
        meta = store.gate_meta(document)
        summary = meta.get("summary") or {}
        status = meta.get("gate_status", "passed" if document.get("success") else "failed")
        page = pages.get(document["suite_name"])
        name = html.escape(document["suite_name"])
        link = f'<td class="suite"><a href="{html.escape(page)}">{name}</a></td>' if page else \
            f'<td class="suite">{name}</td>'
        rows.append(
            f'<tr class="result {html.escape(status)}" data-suite="{name}">'
            + _cell(meta.get("layer", "")) + link + _cell(status, "status")
            + _cell(meta.get("run_date", "")) + _cell(meta.get("run_id", ""))
            + _cell(summary.get("evaluated", "")) + _cell(summary.get("failed", ""))
            + _cell(len(summary.get("warnings", []))) + _cell(summary.get("quarantined_rows", 0))
            + _cell(", ".join(summary.get("fail", [])) or "-") + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in (
        "Layer", "Suite", "Status", "Run date", "Run id", "Evaluated", "Unsuccessful", "Warnings",
        "Quarantined rows", "Failing (fail severity)"))
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{INDEX_TITLE}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        "tr.failed .status{color:#b00020;font-weight:bold}tr.passed .status{color:#1b5e20}</style>",
        "</head>", "<body>", f"<h1>{INDEX_TITLE}</h1>",
        "<p>Latest validation result of each suite (latest run date, then latest run). "
        "Each suite links to the Great Expectations page of that result.</p>",
        '<table id="latest-results">', f"<thead><tr>{header}</tr></thead>", "<tbody>", *rows,
        "</tbody>", "</table>", "</body>", "</html>", ""])


def build_data_docs(ops_root: str, site_root: str | None = None,
                    render: list[dict[str, Any]] | None = None, suites_directory: Path | None = None,
                    site_storage: Storage | None = None) -> str:
    """(Re)build the site from the stored results; returns the path of its `index.html`.

    GE renders the pages of `render` (default: the latest result of every suite; the gate passes
    only its own result so a run renders one page); the index lists every suite's latest result.
    GE writes into the site storage's working folder (for S3, a temporary folder uploaded after,
    with GE's static assets only when the site has none yet).
    """
    root = (site_root or default_site_root(ops_root)).rstrip("/")
    site = site_storage or storage.storage_at(root)
    latest = store.latest_results(ops_root)
    with site.working_folder(root, keep_existing=(STATIC_ASSETS,)) as local_root:
        context = _docs_context(str(local_root))
        _render(context, latest if render is None else render, suites_directory)
        pages = _page_paths(context, latest)
    index_path = root + "/index.html"
    site.write_text(index_path, index_html(latest, pages))
    return index_path
