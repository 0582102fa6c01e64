"""`lakehouse drift`: a date's feature drift as gold `feature_drift` holds it (read with pyiceberg,
no Spark), as text for people or as one JSON object for scripts."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

from jobs.drift.settings import VERDICTS, worst
from jobs.feature_drift import DEFAULT_SOURCE, TABLE
from jobs.lake import LakeLayout
from jobs.text_table import render_table
from pipelines.lake_tables import open_local, to_pandas


class NoDriftMeasuredError(LookupError):
    """The table has no rows for the date (and source)."""


def drift_rows(lake_root: Path, day: date, source: str = DEFAULT_SOURCE) -> list[dict[str, Any]]:
    """The date's rows, features in the table's order of severity (worst first), the score last."""
    try:
        frame = to_pandas(open_local(lake_root), f"gold.{TABLE}",
                          row_filter=f"event_date = '{day.isoformat()}' AND source = '{source}'")
    except LookupError as missing:
        raise NoDriftMeasuredError(f"no gold.{TABLE} in {lake_root} ({missing}): drift is measured by the "
                                   "batch-inference pipeline (lakehouse run batch_inference --date D)") from None
    if frame.empty:
        raise NoDriftMeasuredError(f"no drift measured for {day} (source {source}) in {lake_root}: run "
                                   f"`lakehouse run batch_inference --date {day} --lake-root {lake_root}`")
    rows = frame.to_dict(orient="records")
    return sorted(rows, key=lambda r: (r["kind"] == "score", -VERDICTS.index(r["verdict"]), -r["psi"], r["feature"]))


def drift_json(day: date, rows: list[dict[str, Any]]) -> str:
    """`{"date": D, "features": {NAME: {"psi": x, "verdict": v}}}` (the score is not a feature)."""
    features = {r["feature"]: {"psi": float(r["psi"]), "verdict": r["verdict"]} for r in rows if r["kind"] != "score"}
    return json.dumps({"date": day.isoformat(), "features": features})


def _number(value: Any, pattern: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, pattern)


def drift_lines(lake_root: Path, day: date, rows: list[dict[str, Any]], source: str = DEFAULT_SOURCE) -> list[str]:
    verdict = worst([r["verdict"] for r in rows if r["kind"] != "score"])
    lines = [f"feature drift {day} ({source}) against model {rows[0]['model_version']}'s training baseline: "
             f"{verdict}",
             render_table(("feature", "kind", "psi", "verdict", "null rate", "mean"), [
                 (r["feature"], r["kind"], f"{r['psi']:.4f}", r["verdict"],
                  f"{_number(r['baseline_null_rate'], '.1%')} -> {_number(r['null_rate'], '.1%')}",
                  f"{_number(r['baseline_mean'], '.4g')} -> {_number(r['mean'], '.4g')}") for r in rows],
                 right=("psi", "null rate", "mean"), indent=2)]
    lines.append(f"report: {LakeLayout.from_root(str(lake_root)).drift_report(day, source)}")
    return lines
