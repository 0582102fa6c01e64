"""The saved model: a scikit-learn estimator plus what scoring needs to use it the same way.

The bundle is a plain dict of scikit-learn objects and builtins (no class from this package), so
it unpickles wherever the same scikit-learn version is installed: SageMaker's training and
inference containers (see requirements.txt) and the Glue evaluation job.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

BUNDLE_FILE = "model.joblib"
FORMAT_VERSION = 1


def make_bundle(estimator: Any, features: Sequence[str], decision_threshold: float, version: str,
                training_summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION,
        "estimator": estimator,
        "features": list(features),
        "decision_threshold": float(decision_threshold),
        "version": version,
        "training": training_summary,
    }


def save_bundle(bundle: dict[str, Any], model_dir: str) -> str:
    path = os.path.join(model_dir, BUNDLE_FILE)
    joblib.dump(bundle, path)
    return path


def load_bundle(model_dir: str) -> dict[str, Any]:
    bundle = joblib.load(os.path.join(model_dir, BUNDLE_FILE))
    if not isinstance(bundle, dict) or bundle.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{model_dir}/{BUNDLE_FILE} is not a fraud model bundle (format {FORMAT_VERSION})")
    return bundle


def feature_matrix(bundle: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """The model's columns in training order, as floats; a column the input lacks is all NaN
    (the estimator treats NaN as missing, exactly as in training)."""
    columns = {name: pd.to_numeric(frame[name], errors="coerce") if name in frame else np.nan
               for name in bundle["features"]}
    return pd.DataFrame(columns, index=frame.index).to_numpy(dtype=float)


def fraud_scores(bundle: dict[str, Any], frame: pd.DataFrame) -> np.ndarray:
    """Probability of fraud per row (0..1). One OpenMP thread: scoring a mini-batch is cheap, and
    idle-spinning OpenMP workers slow every process sharing the cores (Spark, other handlers)."""
    if frame.empty:
        return np.zeros(0, dtype=float)
    with threadpool_limits(limits=1, user_api="openmp"):
        return bundle["estimator"].predict_proba(feature_matrix(bundle, frame))[:, 1]
