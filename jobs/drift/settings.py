"""Drift thresholds and binning: the one place they are configured.

A job may override the thresholds with `--drift_warn_psi` / `--drift_retrain_psi`; everything else
reads `DriftSettings()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

OK, WARN, RETRAIN = "ok", "warn", "retrain"
VERDICTS: tuple[str, ...] = (OK, WARN, RETRAIN)  # in order of severity


@dataclass(frozen=True)
class DriftSettings:
    warn_psi: float = 0.1  # PSI above this: warn
    retrain_psi: float = 0.25  # PSI above this: retraining recommended
    quantile_bins: int = 10  # numeric features are cut at the baseline's deciles
    quantile_relative_error: float = 0.001  # Spark approxQuantile's error bound for the baseline edges
    share_floor: float = 1e-4  # an empty bin's share in PSI (a share of 0 would make PSI infinite)

    def __post_init__(self) -> None:
        if not 0 < self.warn_psi <= self.retrain_psi:
            raise ValueError(f"drift thresholds must satisfy 0 < warn ({self.warn_psi}) <= retrain "
                             f"({self.retrain_psi})")
        if self.quantile_bins < 2:
            raise ValueError(f"quantile_bins must be at least 2, got {self.quantile_bins}")

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> DriftSettings:
        """Job arguments `--drift_warn_psi` / `--drift_retrain_psi` (strings, as Glue passes them)."""
        overrides: dict[str, float] = {}
        for field_name in ("warn_psi", "retrain_psi"):
            value = args.get(f"drift_{field_name}")
            if value not in (None, ""):
                try:
                    overrides[field_name] = float(value)
                except ValueError:
                    raise ValueError(f"--drift_{field_name} must be a number, got {value!r}") from None
        return cls(**overrides)

    def verdict(self, psi: float | None) -> str:
        if psi is None:
            return OK
        if psi > self.retrain_psi:
            return RETRAIN
        if psi > self.warn_psi:
            return WARN
        return OK


def worst(verdicts: list[str]) -> str:
    """The most severe verdict (ok when there is none)."""
    return max(verdicts, key=VERDICTS.index, default=OK)
