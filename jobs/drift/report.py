"""The drift report: one self-contained HTML page per date, one small plot per feature.

Each plot sets the baseline's shares (grey, filled) against the current ones (coloured by verdict), bin
by bin, low to high (matplotlib, Agg backend, PNG embedded as a data URI so the page opens offline,
from S3 or from a laptop alike). Features are listed worst first.

Rendering is the job's costliest step after the aggregate, so the plots are drawn cheaply: one reused
axes, step outlines rather than bar patches, tick labels only where they name something (the categories;
a numeric axis's two outer bins), low dpi and fast PNG compression: about 20 ms of CPU per plot.
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


def _plot_png(result: FeatureDrift, figure: Any, axes: Any) -> str:
    """The feature's baseline vs current shares per bin, as a base64 PNG."""
    axes.clear()
    edges = list(range(len(result.bins) + 1))
    axes.stairs(result.baseline_shares, edges, fill=True, color="#cfd8dc", label="baseline")
    axes.stairs(result.current_shares, edges, color=_COLOURS[result.verdict], linewidth=1.5, label="current")
    if result.kind == "categorical":
        axes.set_xticks([e + 0.5 for e in edges[:-1]], result.bins, rotation=30, ha="right", fontsize=5)
    else:
        axes.set_xticks([0.5, len(result.bins) - 0.5], [result.bins[0], result.bins[-1]], fontsize=5)
    axes.tick_params(axis="y", labelsize=5)
    axes.set_title(f"{result.feature}: PSI {result.psi:.3f} ({result.verdict})", fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=72, pil_kwargs={"compress_level": 1})
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

    figure = Figure(figsize=(2.8, 1.8))
    axes = figure.add_axes((0.12, 0.22, 0.85, 0.64))
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
                     f"src='data:image/png;base64,{_plot_png(r, figure, axes)}'></figure>")
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
        f"baseline's quantiles; shares are of non-null values. Plots: baseline shares grey, current shares "
        f"coloured by verdict, bins from low to high.</p>",
        "<table><tr><th>feature</th><th>kind</th><th>PSI</th><th>verdict</th><th>null rate</th><th>mean</th>"
        "<th>std</th><th>rows</th></tr>",
        *rows,
        "</table>",
        *cards,
        "</body></html>",
    ])
