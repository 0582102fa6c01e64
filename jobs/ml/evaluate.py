"""Held-out evaluation of a fraud model: AUC, precision/recall at a threshold, against baselines.

Pure NumPy/scikit-learn (no Spark), used by the Glue evaluation job. The held-out window is later
in time than anything the model was trained on, so the figures estimate next week's performance.

Baselines are the trivial scorers a model has to beat to be worth deploying: a constant (the
training fraud rate: AUC 0.5 by construction) and "bigger amounts are riskier" (score = amount).
The best of them is *the* baseline. Precision/recall of a baseline are taken at the same number
of flagged transactions as the model, so the comparison is at equal review effort.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

UNDEFINED_AUC = 0.0  # reported when the window holds a single class: such a window cannot pass a bar


def _as_arrays(labels: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels, dtype=int)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape} vs {s.shape}")
    return y, s


def roc_auc(labels: Any, scores: Any) -> float | None:
    """Area under the ROC curve; None when the labels hold a single class (AUC is undefined)."""
    y, s = _as_arrays(labels, scores)
    if y.size == 0 or y.min() == y.max():
        return None
    return float(roc_auc_score(y, s))


def _precision_recall(y: np.ndarray, flagged: np.ndarray) -> dict[str, Any]:
    true_positives = int((y[flagged] == 1).sum())
    n_flagged = int(flagged.sum())
    positives = int(y.sum())
    return {
        "flagged": n_flagged,
        "true_positives": true_positives,
        "precision": true_positives / n_flagged if n_flagged else 0.0,
        "recall": true_positives / positives if positives else 0.0,
    }


def at_threshold(labels: Any, scores: Any, threshold: float) -> dict[str, Any]:
    """Precision and recall when every score >= threshold is flagged for review."""
    y, s = _as_arrays(labels, scores)
    return {"threshold": float(threshold), **_precision_recall(y, s >= threshold)}


def at_top_k(labels: Any, scores: Any, k: int) -> dict[str, Any]:
    """Precision and recall when the k highest scores are flagged (ties: earlier rows first)."""
    y, s = _as_arrays(labels, scores)
    flagged = np.zeros(y.size, dtype=bool)
    flagged[np.argsort(-s, kind="stable")[: max(0, min(k, y.size))]] = True
    return {"top_k": int(k), **_precision_recall(y, flagged)}


def score_summary(labels: Any, scores: Any) -> dict[str, Any]:
    y, s = _as_arrays(labels, scores)
    auc = roc_auc(y, s)
    return {
        "auc": UNDEFINED_AUC if auc is None else auc,
        "auc_defined": auc is not None,
        "average_precision": float(average_precision_score(y, s)) if auc is not None else 0.0,
    }


def baseline_scores(amounts: Any, training_fraud_rate: float) -> dict[str, np.ndarray]:
    amount = np.asarray(amounts, dtype=float)
    return {"constant_prior": np.full(amount.size, float(training_fraud_rate)), "amount": amount}


def evaluate(labels: Any, model_scores: Any, threshold: float, baselines: Mapping[str, Any],
             champion_scores: Any | None = None) -> dict[str, Any]:
    """The metrics document: the model's figures at top level, `baseline` (the best trivial scorer,
    with every baseline under `all`) and `champion` (the deployed model on the same rows, or None)."""
    y, s = _as_arrays(labels, model_scores)
    model = {**score_summary(y, s), **at_threshold(y, s, threshold)}
    flagged = model["flagged"]
    candidates = {name: {**score_summary(y, scores), **at_top_k(y, scores, flagged)}
                  for name, scores in baselines.items()}
    best_name = max(candidates, key=lambda name: (candidates[name]["auc"], name)) if candidates else None
    baseline = ({"name": best_name, **candidates[best_name], "all": candidates} if best_name
                else None)
    champion = None
    if champion_scores is not None:
        champion = {**score_summary(y, champion_scores), **at_threshold(y, champion_scores, threshold)}
    return {
        "rows": int(y.size),
        "positives": int(y.sum()),
        "fraud_rate": float(y.mean()) if y.size else 0.0,
        **model,
        "baseline": baseline,
        "champion": champion,
    }
