"""A frame's per-feature statistics, in one Spark aggregate.

For a numeric feature with bin edges e1 < ... < ek the bins are (-inf, e1], (e1, e2], ..., (ek, inf):
the same rule for the baseline and every later day. A profile is plain JSON-ready data:

    {"kind": "numeric" | "categorical" | "score", "rows": n, "nulls": k, "mean": m, "std": s,
     "edges": [...] (numeric) | "categories": [...] (categorical), "counts": [count per bin]}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.drift.features import CATEGORICAL_GROUPS, category_column

NUMERIC, CATEGORICAL, SCORE = "numeric", "categorical", "score"


class DriftInputError(ValueError):
    """The frame lacks columns the profile needs."""


def with_categories(df: DataFrame, names: Sequence[str]) -> DataFrame:
    """`df` plus each categorical feature rebuilt from its one-hot group."""
    missing = [f"{CATEGORICAL_GROUPS[n][0]}{v}" for n in names for v in CATEGORICAL_GROUPS[n][1]
               if f"{CATEGORICAL_GROUPS[n][0]}{v}" not in df.columns]
    if missing:
        raise DriftInputError(f"the frame lacks one-hot columns {missing[:5]}{' ...' if len(missing) > 5 else ''}")
    return df.select("*", *[category_column(n) for n in names])


def quantile_edges(df: DataFrame, features: Sequence[str], bins: int, relative_error: float) -> dict[str, list[float]]:
    """Each feature's inner quantile cut points (deduplicated): one approxQuantile pass for all of them."""
    if not features:
        return {}
    probabilities = [i / bins for i in range(1, bins)]
    cuts = df.approxQuantile(list(features), probabilities, relative_error)
    return {feature: sorted({float(v) for v in values}) for feature, values in zip(features, cuts, strict=True)}


def _bin_conditions(column: Column, edges: Sequence[float]) -> list[Column]:
    lower: list[float | None] = [None, *edges]
    upper: list[float | None] = [*edges, None]
    conditions = []
    for low, high in zip(lower, upper, strict=True):
        condition = column.isNotNull()
        if low is not None:
            condition = condition & (column > F.lit(low))
        if high is not None:
            condition = condition & (column <= F.lit(high))
        conditions.append(condition)
    return conditions


def _count_if(condition: Column, alias: str) -> Column:
    return F.sum(F.when(condition, F.lit(1)).otherwise(F.lit(0))).alias(alias)


def profile_expressions(numeric_edges: Mapping[str, Sequence[float]],
                        categorical: Mapping[str, Sequence[str]]) -> list[Column]:
    """The aggregate's columns, named `<feature>|<stat>` (so one row holds every feature's figures)."""
    expressions = [F.count(F.lit(1)).alias("|rows")]
    for feature, edges in numeric_edges.items():
        column = F.col(feature).cast("double")
        expressions += [F.count(column).alias(f"{feature}|non_null"), F.avg(column).alias(f"{feature}|mean"),
                        F.stddev_samp(column).alias(f"{feature}|std")]
        expressions += [_count_if(c, f"{feature}|bin{i}") for i, c in enumerate(_bin_conditions(column, edges))]
    for feature, values in categorical.items():
        column = F.col(feature)
        expressions.append(F.count(column).alias(f"{feature}|non_null"))
        expressions += [_count_if(column == F.lit(v), f"{feature}|bin{i}") for i, v in enumerate(values)]
    return expressions


def profile(df: DataFrame, numeric_edges: Mapping[str, Sequence[float]],
            categorical: Mapping[str, Sequence[str]], score_features: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    """Every feature's profile from ONE aggregate over `df` (which must already hold the categorical
    columns, see `with_categories`). Features in `score_features` are numeric but marked `score`."""
    absent = [f for f in [*numeric_edges, *categorical] if f not in df.columns]
    if absent:
        raise DriftInputError(f"the frame lacks feature columns {absent}")
    # collect(), not first(): a global aggregate's first() may run the plan as more than one job
    (row,) = df.agg(*profile_expressions(numeric_edges, categorical)).collect()
    figures = row.asDict()
    rows = int(figures.get("|rows") or 0)
    result: dict[str, dict[str, Any]] = {}
    for feature, edges in numeric_edges.items():
        non_null = int(figures[f"{feature}|non_null"] or 0)
        result[feature] = {
            "kind": SCORE if feature in score_features else NUMERIC, "rows": rows, "nulls": rows - non_null,
            "mean": _number(figures[f"{feature}|mean"]), "std": _number(figures[f"{feature}|std"]),
            "edges": [float(e) for e in edges],
            "counts": [int(figures[f"{feature}|bin{i}"] or 0) for i in range(len(edges) + 1)],
        }
    for feature, values in categorical.items():
        non_null = int(figures[f"{feature}|non_null"] or 0)
        result[feature] = {
            "kind": CATEGORICAL, "rows": rows, "nulls": rows - non_null, "mean": None, "std": None,
            "categories": list(values),
            "counts": [int(figures[f"{feature}|bin{i}"] or 0) for i in range(len(values))],
        }
    return result


def _number(value: Any) -> float | None:
    return None if value is None else float(value)
