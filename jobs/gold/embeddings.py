"""Customer embeddings: a dense vector per customer learned from how it spends.

Each customer's last 30 days become a behaviour profile: its share of spend in each merchant
category and in each channel (two blocks that each sum to 1; the vocabularies are the model's fixed
ones, `jobs.ml.feature_spec`). Spark ML's PCA, fitted on those profiles, projects them onto the
`EMBEDDING_DIMENSIONS` directions that explain most of their variance: customers who spend alike get
nearby vectors. A customer with no spend in the window has no profile and a null embedding.

The fitted projection is an artifact, not recomputed daily: it is fitted once (the first gold run,
or on request), saved as JSON under `<ops>/feature_sets/customer_features/`, and its content hash is
part of the feature-set version every gold row and online item carries. Applying it is a few
multiply-adds per customer written as column expressions, computed in the same pass as the other
features, which keeps the daily gold job's cost flat. `project` gives exactly what Spark's
`PCAModel.transform` gives (PCA in Spark does not centre the input; neither does `project`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from jobs.gold.versions import latest_transactions
from jobs.gold.windows import event_date, in_window
from jobs.ml.feature_spec import CHANNELS, EMBEDDING_DIMENSIONS, MERCHANT_CATEGORIES

EMBEDDING_COLUMN = "customer_embedding"
# Fewer customers with spend than this and no projection is fitted: the embedding stays null (the
# version says `unfitted`) until a run date has enough behaviour to learn from.
MIN_FIT_PROFILES = 50
PROFILE_WINDOW_DAYS = 30
PROFILE_COLUMNS: tuple[str, ...] = (*(f"spend_share_{c}" for c in MERCHANT_CATEGORIES),
                                    *(f"spend_share_{c}" for c in CHANNELS))
# Bump when the profile's definition (not the data) changes: it is part of the feature-set version.
FEATURE_SET_NAME = "customer_features"
FEATURE_SET_SCHEMA = 2


class EmbeddingFitError(RuntimeError):
    """The projection cannot be fitted (the message says on what and why)."""


def spend_profiles(transactions: DataFrame, as_of: date) -> DataFrame:
    """customer_id + PROFILE_COLUMNS: shares of the customer's 30-day spend by category and channel."""
    day = event_date(F.col("event_time"))
    recent = latest_transactions(transactions).where(
        F.col("customer_id").isNotNull() & F.col("amount").isNotNull() & (F.col("amount") > 0)
        & in_window(day, as_of, PROFILE_WINDOW_DAYS))
    # Decimal sums are exact whatever order Spark adds them in, so a profile is the same on every run.
    amount = F.col("amount").cast("decimal(12,2)")
    zero = F.lit(0).cast("decimal(12,2)")
    category = F.lower(F.trim(F.col("merchant_category")))
    channel = F.lower(F.trim(F.col("channel")))
    sums = recent.groupBy("customer_id").agg(
        F.sum(amount).alias("_total"),
        *[F.sum(F.when(category == c, amount).otherwise(zero)).alias(f"spend_share_{c}") for c in MERCHANT_CATEGORIES],
        *[F.sum(F.when(channel == c, amount).otherwise(zero)).alias(f"spend_share_{c}") for c in CHANNELS],
    )
    return sums.select("customer_id",
                       *[(F.col(c).cast("double") / F.col("_total").cast("double")).alias(c) for c in PROFILE_COLUMNS])


@dataclass(frozen=True)
class EmbeddingTransform:
    """The fitted projection: components[i][j] = weight of PROFILE_COLUMNS[i] in dimension j."""

    components: tuple[tuple[float, ...], ...]
    explained_variance: tuple[float, ...]
    fitted_on: str  # the as_of date whose profiles it was fitted on
    profiles: int  # how many customers' profiles

    @property
    def version(self) -> str:
        """Content hash of what defines the embedding: the same fit gives the same version."""
        payload = json.dumps({"schema": FEATURE_SET_SCHEMA, "columns": PROFILE_COLUMNS,
                              "components": self.components}, sort_keys=True)
        return f"cf{FEATURE_SET_SCHEMA}-{hashlib.sha256(payload.encode()).hexdigest()[:12]}"

    def as_json(self) -> dict[str, Any]:
        return {"feature_set": FEATURE_SET_NAME, "feature_set_version": self.version, "columns": list(PROFILE_COLUMNS),
                "components": [list(row) for row in self.components],
                "explained_variance": list(self.explained_variance), "fitted_on": self.fitted_on,
                "profiles": self.profiles, "method": "pyspark.ml.feature.PCA on 30-day spend shares"}

    @classmethod
    def from_json(cls, payload: dict[str, Any], source: str = "") -> EmbeddingTransform:
        if list(payload.get("columns", [])) != list(PROFILE_COLUMNS):
            raise EmbeddingFitError(f"embedding transform {source}: its columns {payload.get('columns')} are not "
                                    f"this code's {list(PROFILE_COLUMNS)}; refit it (--refit_embedding true)")
        transform = cls(tuple(tuple(float(x) for x in row) for row in payload["components"]),
                        tuple(float(x) for x in payload["explained_variance"]), str(payload["fitted_on"]),
                        int(payload["profiles"]))
        if payload.get("feature_set_version") != transform.version:
            raise EmbeddingFitError(f"embedding transform {source}: its recorded version "
                                    f"{payload.get('feature_set_version')} does not match its content "
                                    f"({transform.version}); the file was edited or corrupted")
        return transform


def fit_embedding(profiles: DataFrame, as_of: date, dimensions: int = EMBEDDING_DIMENSIONS,
                  min_profiles: int = MIN_FIT_PROFILES) -> EmbeddingTransform:
    """Fit Spark ML's PCA on the profiles (at least `min_profiles` customers are needed)."""
    from pyspark.ml.feature import PCA, VectorAssembler

    vectors = VectorAssembler(inputCols=list(PROFILE_COLUMNS), outputCol="_profile").transform(profiles)
    count = profiles.count()
    if count < max(min_profiles, dimensions + 1):
        raise EmbeddingFitError(f"fitting the customer embedding as of {as_of}: {count} customers with spend in "
                                f"the last {PROFILE_WINDOW_DAYS} days, at least {max(min_profiles, dimensions + 1)} "
                                "are needed")
    model = PCA(k=dimensions, inputCol="_profile", outputCol="_embedding").fit(vectors.select("_profile"))
    matrix = model.pc.toArray()  # rows: input columns, columns: dimensions
    return EmbeddingTransform(tuple(tuple(float(x) for x in row) for row in matrix),
                              tuple(float(x) for x in model.explainedVariance.toArray()), as_of.isoformat(), count)


UNFITTED_VERSION = f"cf{FEATURE_SET_SCHEMA}-unfitted"


def with_embedding(features: DataFrame, profiles: DataFrame, transform: EmbeddingTransform | None) -> DataFrame:
    """The gold feature rows plus EMBEDDING_COLUMN (null without spend, or without a fitted transform)
    and `feature_set_version`."""
    version = transform.version if transform else UNFITTED_VERSION
    if transform is None:
        embedded = features.withColumn(EMBEDDING_COLUMN, F.lit(None).cast("array<double>"))
    else:
        embedded = features.join(project(profiles, transform), on="customer_id", how="left")
    return embedded.withColumn("feature_set_version", F.lit(version))


def project(profiles: DataFrame, transform: EmbeddingTransform) -> DataFrame:
    """customer_id + EMBEDDING_COLUMN (array<double>): the profile times the components."""
    dimensions = len(transform.components[0])

    def dimension(j: int) -> Column:
        terms = [F.col(c) * F.lit(transform.components[i][j]) for i, c in enumerate(PROFILE_COLUMNS)]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total

    return profiles.select("customer_id", F.array(*[dimension(j) for j in range(dimensions)]).alias(EMBEDDING_COLUMN))
