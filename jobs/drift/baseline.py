"""The training baseline: recorded with a model version, read back by every drift run.

`<registry>/<version>/drift_baseline.json` holds, per model input, the profile of the training split
(numeric: the quantile bin edges and each bin's share; categorical: each value's share; null rate,
mean, std) and the profile of the candidate's scores on the held-out window (the scores a batch of
unseen rows should look like). Computing it costs two Spark jobs: the quantiles, then one aggregate.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pyspark.sql import DataFrame

from jobs.drift.features import CATEGORICAL_GROUPS, NUMERIC_FEATURES, SCORE_FEATURE, categories
from jobs.drift.profile import profile, quantile_edges, with_categories
from jobs.drift.settings import DriftSettings
from jobs.lake import LakeLayout
from jobs.storage import exists, read_json

BASELINE_FILE = "drift_baseline.json"
FORMAT_VERSION = 1


class MissingBaselineError(FileNotFoundError):
    """The model version has no recorded drift baseline."""


def baseline_path(layout: LakeLayout, model_name: str, version: str) -> str:
    return f"{layout.model_version(model_name, version)}/{BASELINE_FILE}"


def feature_profiles(features: DataFrame, settings: DriftSettings,
                     numeric: Sequence[str] = NUMERIC_FEATURES) -> dict[str, dict[str, Any]]:
    """The baseline profile of every monitored model input of `features` (the training split)."""
    edges = quantile_edges(features, numeric, settings.quantile_bins, settings.quantile_relative_error)
    groups = {name: categories(name) for name in CATEGORICAL_GROUPS}
    return profile(with_categories(features, list(groups)), edges, groups)


def score_profile(scores: DataFrame, settings: DriftSettings) -> dict[str, Any]:
    """The baseline profile of the model's scores (`fraud_score` column)."""
    edges = quantile_edges(scores, [SCORE_FEATURE], settings.quantile_bins, settings.quantile_relative_error)
    return profile(scores, edges, {}, score_features=[SCORE_FEATURE])[SCORE_FEATURE]


def baseline_document(model_name: str, version: str, features: dict[str, dict[str, Any]],
                      score: dict[str, Any] | None, settings: DriftSettings,
                      training_window: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "model_name": model_name,
        "version": version,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_window": list(training_window),
        "quantile_bins": settings.quantile_bins,
        "features": features,
        "score": score,
    }


def load_baseline(layout: LakeLayout, model_name: str, version: str) -> dict[str, Any]:
    path = baseline_path(layout, model_name, version)
    if not exists(path):
        raise MissingBaselineError(
            f"model {model_name} version {version} has no drift baseline ({path} does not exist): it was trained "
            "before drift baselines were recorded; run the training pipeline to record one")
    document = read_json(path)
    if document.get("format_version") != FORMAT_VERSION or not isinstance(document.get("features"), dict):
        raise ValueError(f"{path}: not a drift baseline of format {FORMAT_VERSION}")
    return document


def current_profiles(current: DataFrame, baseline: dict[str, Any], score_column: str | None = None,
                     ) -> dict[str, dict[str, Any]]:
    """The current frame profiled with the BASELINE's bins, in one aggregate: each numeric feature at
    its baseline edges, each categorical at its baseline values; the score too when `score_column`
    is given (and the baseline has one)."""
    numeric = {name: p["edges"] for name, p in baseline["features"].items() if p["kind"] != "categorical"}
    categorical = {name: p["categories"] for name, p in baseline["features"].items() if p["kind"] == "categorical"}
    scores: list[str] = []
    if score_column is not None and baseline.get("score"):
        numeric[score_column] = baseline["score"]["edges"]
        scores.append(score_column)
    return profile(with_categories(current, list(categorical)), numeric, categorical, score_features=scores)
