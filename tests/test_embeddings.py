"""Customer embeddings: spend profiles, Spark ML's PCA fit, the projection applied as column
expressions (equal to PCAModel.transform), and the fitted transform's versioning."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession

from jobs.gold.embeddings import (
    EMBEDDING_COLUMN,
    PROFILE_COLUMNS,
    UNFITTED_VERSION,
    EmbeddingFitError,
    EmbeddingTransform,
    fit_embedding,
    project,
    spend_profiles,
    with_embedding,
)
from jobs.gold.feature_sets import current_transform, transform_for_run, version_path
from jobs.lake import LakeLayout
from jobs.ml.feature_spec import CHANNELS, MERCHANT_CATEGORIES
from jobs.storage import read_json, write_json

AS_OF = date(2024, 1, 31)


def transactions(spark: SparkSession, customers: int = 60, seed: int = 5) -> DataFrame:
    """Each customer favours one category and one channel; one late and one out-of-window row."""
    rng = random.Random(seed)
    rows = []
    for c in range(customers):
        favourite, channel = MERCHANT_CATEGORIES[c % len(MERCHANT_CATEGORIES)], CHANNELS[c % len(CHANNELS)]
        for t in range(6):
            category = favourite if t < 4 else rng.choice(MERCHANT_CATEGORIES)
            day = AS_OF - timedelta(days=rng.randrange(0, 30))
            rows.append((f"T{c:03d}{t}", f"C{c:03d}", Decimal(f"{rng.uniform(5, 200):.2f}"), category,
                         channel if t < 5 else rng.choice(CHANNELS), datetime(day.year, day.month, day.day, 12)))
    rows.append(("T999", "C000", Decimal("500.00"), "travel", "online", datetime(2024, 2, 1, 9)))  # after as_of
    rows.append(("T998", "C001", Decimal("500.00"), "travel", "online", datetime(2023, 12, 1, 9)))  # before window
    return spark.createDataFrame(rows, "transaction_id string, customer_id string, amount decimal(12,2), "
                                       "merchant_category string, channel string, event_time timestamp")


def test_profiles_are_spend_shares_of_the_window(spark: SparkSession) -> None:
    tx = spark.createDataFrame([
        ("T1", "C1", Decimal("30.00"), "grocery", "online", datetime(2024, 1, 30, 9)),
        ("T2", "C1", Decimal("10.00"), "Fuel ", "ATM", datetime(2024, 1, 31, 9)),
        ("T3", "C1", Decimal("60.00"), "grocery", "online", datetime(2024, 2, 1, 9)),  # after as_of
        ("T4", "C2", Decimal("5.00"), "travel", "mobile", datetime(2023, 12, 1, 9)),  # before the window
    ], "transaction_id string, customer_id string, amount decimal(12,2), merchant_category string, channel string, "
       "event_time timestamp")
    [profile] = [r.asDict() for r in spend_profiles(tx, AS_OF).collect()]
    assert profile["customer_id"] == "C1"
    assert (profile["spend_share_grocery"], profile["spend_share_fuel"]) == (0.75, 0.25)
    assert (profile["spend_share_online"], profile["spend_share_atm"]) == (0.75, 0.25)
    assert sum(profile[c] for c in PROFILE_COLUMNS) == pytest.approx(2.0)  # two blocks summing to 1


def test_projection_equals_spark_pca_and_customers_without_spend_get_null(spark: SparkSession,
                                                                           tmp_path: Path) -> None:
    from pyspark.ml.feature import PCA, VectorAssembler

    profiles = spend_profiles(transactions(spark), AS_OF).cache()
    layout = LakeLayout.from_root(str(tmp_path / "lake"))
    transform, report = transform_for_run(layout, profiles, AS_OF, refit=False)  # none yet: fitted and saved
    assert report["fitted"] and report["feature_set_version"] == transform.version
    assert len(transform.components) == len(PROFILE_COLUMNS) and len(transform.components[0]) == 4
    assert transform.profiles == 60 and transform.fitted_on == AS_OF.isoformat()

    vectors = VectorAssembler(inputCols=list(PROFILE_COLUMNS), outputCol="v").transform(profiles)
    spark_model = PCA(k=4, inputCol="v", outputCol="e").fit(vectors)
    expected = {r["customer_id"]: r["e"].toArray().tolist() for r in spark_model.transform(vectors).collect()}
    ours = {r["customer_id"]: r[EMBEDDING_COLUMN] for r in project(profiles, transform).collect()}
    assert ours.keys() == expected.keys()
    for customer, vector in ours.items():
        assert vector == pytest.approx(expected[customer], abs=1e-9)

    features = spark.createDataFrame([("C000", 1), ("C-new", 0)], "customer_id string, txn_count_30d long")
    embedded = {r["customer_id"]: r.asDict() for r in with_embedding(features, profiles, transform).collect()}
    assert embedded["C-new"][EMBEDDING_COLUMN] is None
    assert embedded["C000"][EMBEDDING_COLUMN] == pytest.approx(expected["C000"], abs=1e-9)
    assert {r["feature_set_version"] for r in embedded.values()} == {transform.version}
    unfitted = with_embedding(features, profiles, None).collect()
    assert {(r[EMBEDDING_COLUMN], r["feature_set_version"]) for r in unfitted} == {(None, UNFITTED_VERSION)}

    # fitted once, then reused as saved (a refit may rotate the basis, so it is always a new version);
    # the version is the content's hash and a tampered file is refused
    again, report = transform_for_run(layout, profiles, AS_OF + timedelta(days=1), refit=False)
    assert not report["fitted"] and again == transform and report["feature_set_version"] == transform.version
    path = version_path(layout, transform.version)
    payload = read_json(path)
    payload["components"][0][0] += 0.5
    write_json(path, payload)
    with pytest.raises(EmbeddingFitError, match="does not match its content"):
        current_transform(layout)
    profiles.unpersist()


def test_too_few_customers_to_fit_is_reported_not_fatal(spark: SparkSession, tmp_path: Path) -> None:
    profiles = spend_profiles(transactions(spark, customers=8), AS_OF)
    with pytest.raises(EmbeddingFitError, match="8 customers with spend in the last 30 days, at least 50"):
        fit_embedding(profiles, AS_OF)
    transform, report = transform_for_run(LakeLayout.from_root(str(tmp_path / "lake")), profiles, AS_OF, False)
    assert transform is None and "at least 50" in report["not_fitted_because"]


def test_transform_json_round_trip() -> None:
    transform = EmbeddingTransform(((0.5, -0.25),) * len(PROFILE_COLUMNS), (0.6, 0.3), "2024-01-31", 60)
    assert EmbeddingTransform.from_json(transform.as_json()) == transform
    with pytest.raises(EmbeddingFitError, match="refit it"):
        EmbeddingTransform.from_json({**transform.as_json(), "columns": ["x"]}, "f.json")
