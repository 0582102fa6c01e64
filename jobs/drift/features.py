"""Which model inputs drift is measured on, and how.

The model sees channel, merchant category and segment as one-hot columns; drift is measured on the
category itself (one PSI over its shares), rebuilt from its one-hot group. Every other model column
is numeric and binned at the baseline's quantiles. The batch-inference score is profiled too.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from jobs.ml.feature_spec import CHANNELS, FEATURE_COLUMNS, MERCHANT_CATEGORIES, SEGMENTS

OTHER = "other"  # none of the group's columns is 1
SCORE_FEATURE = "fraud_score"

# category name -> (one-hot column prefix, allowed values)
CATEGORICAL_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "channel": ("channel_", CHANNELS),
    "merchant_category": ("category_", MERCHANT_CATEGORIES),
    "segment": ("segment_", SEGMENTS),
}
ONE_HOT_COLUMNS: frozenset[str] = frozenset(
    prefix + value for prefix, values in CATEGORICAL_GROUPS.values() for value in values)
NUMERIC_FEATURES: tuple[str, ...] = tuple(c for c in FEATURE_COLUMNS if c not in ONE_HOT_COLUMNS)


def categories(name: str) -> list[str]:
    """A categorical feature's values in report order, `other` last."""
    return [*CATEGORICAL_GROUPS[name][1], OTHER]


def category_column(name: str) -> Column:
    """The category a row's one-hot group encodes: null when the whole group is null (e.g. segment
    of a customer without history), `other` when no column of it is 1."""
    prefix, values = CATEGORICAL_GROUPS[name]
    columns = [F.col(prefix + value) for value in values]
    all_null = F.coalesce(*columns).isNull()
    chosen = F.coalesce(*[F.when(column == 1, F.lit(value)) for column, value in zip(columns, values, strict=True)],
                        F.lit(OTHER))
    return F.when(all_null, F.lit(None).cast("string")).otherwise(chosen).alias(name)
