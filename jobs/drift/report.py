"""The drift report: one self-contained HTML page per date, one small plot per feature.

Each plot sets the baseline's shares beside the current ones, bin by bin (matplotlib, Agg backend,
PNG embedded as a data URI so the page opens offline, from S3 or from a laptop alike). Features are
listed worst first.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

from jobs.drift.compare import FeatureDrift
from jobs.drift.settings import VERDICTS, DriftSettings

REPORT_FILE = "report.html"
_COLOURS = {"ok": "#2e7d32", "warn": "#ef6c00", "retrain": "#c62828"}


def _plot_png(result: FeatureDrift, figure: Any) -> str:
    """The feature's baseline vs current shares as grouped bars, as a base64 PNG."""
    figure.clear()
    axes = figure.add_subplot(1, 1, 1)
    positions = list(range(len(result.bins)))
    width = 0.4
    axes.bar([p - width / 2 for p in positions], result.baseline_shares, width, label="baseline", color="#90a4ae")
    axes.bar([p + width / 2 for p in positions], result.current_shares, width, label="current",
             color=_COLOURS[result.verdict])
    axes.set_xticks(positions)
    axes.set_xticklabels(result.bins, rotation=45, ha="right", fontsize=6)
    axes.tick_params(axis="y", labelsize=6)
    axes.set_title(f"{result.feature}: PSI {result.psi:.3f} ({result.verdict})", fontsize=8)
    axes.legend(fontsize=6)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure_number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def render_report(day: str, source: str, model_version: str, results: Sequence[FeatureDrift], verdict: str,
                  settings: DriftSettings) -> str:
    """The page's HTML (one plot per feature)."""
    import matplotlib

    matplotlib.use("Agg")  # no display on Glue or in CI
    from matplotlib.figure import Figure

    figure = Figure(figsize=(3.6, 2.4))
    ordered = sorted(results, key=lambda r: (-VERDICTS.index(r.verdict), -r.psi))
    rows, cards = [], []
    for r in ordered:
        colour = _COLOURS[r.verdict]
        rows.append(
            f"<tr><td><a href='#{html.escape(r.feature)}'>{html.escape(r.feature)}</a></td><td>{r.kind}</td>"
            f"<td>{r.psi:.4f}</td><td style='color:{colour};font-weight:bold'>{r.verdict}</td>"
            f"<td>{_rate(r.baseline_null_rate)} → {_rate(r.null_rate)}</td>"
            f"<td>{_figure_number(r.baseline_mean)} → {_figure_number(r.mean)}</td>"
            f"<td>{_figure_number(r.baseline_std)} → {_figure_number(r.std)}</td><td>{r.rows:,}</td></tr>")
        cards.append(f"<figure id='{html.escape(r.feature)}'><img alt='{html.escape(r.feature)} baseline vs current' "
                     f"src='data:image/png;base64,{_plot_png(r, figure)}'></figure>")
    title = f"Feature drift {html.escape(day)} ({html.escape(source)})"
    return "\n".join([
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>{title}</title>",
        "<style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:0.85em}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}td:first-child{text-align:left}"
        "figure{display:inline-block;margin:4px}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>Model version <b>{html.escape(model_version)}</b>; verdict "
        f"<b style='color:{_COLOURS[verdict]}'>{verdict}</b> (the worst feature). Thresholds: warn at PSI &gt; "
        f"{settings.warn_psi}, retrain at PSI &gt; {settings.retrain_psi}. Numeric bins are cut at the training "
        f"baseline's quantiles; shares are of non-null values.</p>",
        "<table><tr><th>feature</th><th>kind</th><th>PSI</th><th>verdict</th><th>null rate</th><th>mean</th>"
        "<th>std</th><th>rows</th></tr>",
        *rows,
        "</table>",
        *cards,
        "</body></html>",
    ])
