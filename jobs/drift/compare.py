"""PSI and verdicts of a current profile against the baseline (pure Python, no Spark).

PSI = sum over bins of (current share - baseline share) * ln(current share / baseline share), the
shares taken over non-null values and floored (`DriftSettings.share_floor`) so an empty bin counts
as a small share instead of an infinite term. Null rate, mean and std are reported beside it; the
verdict is the PSI's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

from jobs.drift.features import SCORE_FEATURE
from jobs.drift.settings import DriftSettings, worst


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # numeric | categorical | score
    psi: float
    verdict: str
    rows: int
    null_rate: float | None
    baseline_null_rate: float | None
    mean: float | None
    baseline_mean: float | None
    std: float | None
    baseline_std: float | None
    bins: list[str]
    baseline_shares: list[float]
    current_shares: list[float]

    def as_row(self) -> dict[str, Any]:
        return asdict(self)


def shares(counts: Sequence[int]) -> list[float]:
    total = sum(counts)
    return [c / total for c in counts] if total else [0.0 for _ in counts]


def psi(baseline_shares: Sequence[float], current_shares: Sequence[float], floor: float) -> float:
    if len(baseline_shares) != len(current_shares):
        raise ValueError(f"PSI needs the same bins: {len(baseline_shares)} baseline vs {len(current_shares)} current")
    total = 0.0
    for expected, actual in zip(baseline_shares, current_shares, strict=True):
        expected, actual = max(expected, floor), max(actual, floor)
        total += (actual - expected) * math.log(actual / expected)
    return total


def bin_labels(profile: dict[str, Any]) -> list[str]:
    """`<= e1`, `(e1, e2]`, ..., `> ek` for numeric bins; the values for categorical ones."""
    if "categories" in profile:
        return [str(c) for c in profile["categories"]]
    edges = [f"{e:.4g}" for e in profile["edges"]]
    if not edges:
        return ["all"]
    return [f"<= {edges[0]}", *[f"({a}, {b}]" for a, b in pairwise(edges)], f"> {edges[-1]}"]


def _null_rate(profile: dict[str, Any]) -> float | None:
    return profile["nulls"] / profile["rows"] if profile["rows"] else None


def compare_feature(name: str, baseline: dict[str, Any], current: dict[str, Any], settings: DriftSettings,
                    ) -> FeatureDrift:
    expected, actual = shares(baseline["counts"]), shares(current["counts"])
    value = psi(expected, actual, settings.share_floor) if sum(current["counts"]) else 0.0
    return FeatureDrift(
        feature=name, kind=current["kind"], psi=round(value, 6), verdict=settings.verdict(value),
        rows=int(current["rows"]), null_rate=_null_rate(current), baseline_null_rate=_null_rate(baseline),
        mean=current.get("mean"), baseline_mean=baseline.get("mean"), std=current.get("std"),
        baseline_std=baseline.get("std"), bins=bin_labels(baseline), baseline_shares=expected, current_shares=actual)


def compare(baseline: dict[str, Any], current: dict[str, dict[str, Any]], settings: DriftSettings,
            ) -> list[FeatureDrift]:
    """One FeatureDrift per baseline feature (and the score when both sides have it), in baseline order."""
    missing = [name for name in baseline["features"] if name not in current]
    if missing:
        raise ValueError(f"the current profile lacks baseline features {missing}")
    results = [compare_feature(name, profile, current[name], settings)
               for name, profile in baseline["features"].items()]
    if baseline.get("score") and SCORE_FEATURE in current:
        results.append(compare_feature(SCORE_FEATURE, baseline["score"], current[SCORE_FEATURE], settings))
    return results


def overall_verdict(results: Sequence[FeatureDrift]) -> str:
    """The date's verdict: the worst FEATURE verdict (the score is reported, it does not gate retraining)."""
    return worst([r.verdict for r in results if r.kind != "score"])
