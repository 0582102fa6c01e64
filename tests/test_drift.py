"""Feature drift: PSI and verdicts, the one-aggregate profile, the generator's `--drift-from`, and the
feature_drift job end to end on a small lake (gold table, HTML report, verdict files, CLI). The alert is
the batch-inference state machine's (tests/test_batch_inference.py runs it)."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.drift.baseline import baseline_document, baseline_path, current_profiles, feature_profiles, score_profile
from jobs.drift.compare import compare, overall_verdict, psi
from jobs.drift.features import NUMERIC_FEATURES, SCORE_FEATURE
from jobs.drift.profile import profile, with_categories
from jobs.drift.settings import DriftSettings
from jobs.lake import LakeLayout
from jobs.ml.artifacts import DEFAULT_MODEL_NAME
from jobs.ml.feature_spec import FEATURE_COLUMNS, ID_COLUMN
from jobs.ml.features import transaction_columns
from jobs.storage import write_json, write_text
from pipelines.synthetic import generate
from pipelines.synthetic.schema import TRANSACTIONS, bronze_dir

START = date(2024, 3, 1)
DRIFT_FROM = START + timedelta(days=2)
ROWS_PER_DAY = 3000
# Features the generator's shift moves (amount and channel) and those computed from them.
SHIFTED = {"amount", "log_amount", "channel"}


# --- pure ------------------------------------------------------------------------------------------

def test_psi_is_zero_for_equal_shares_and_matches_the_formula():
    assert psi([0.25] * 4, [0.25] * 4, 1e-4) == 0.0
    expected = (0.6 - 0.35) * math.log(0.6 / 0.35) + (0.2 - 0.42) * math.log(0.2 / 0.42) \
        + (0.15 - 0.18) * math.log(0.15 / 0.18) + 0.0
    assert psi([0.35, 0.42, 0.18, 0.05], [0.6, 0.2, 0.15, 0.05], 1e-4) == pytest.approx(expected)
    # an empty bin is floored, not infinite
    assert math.isfinite(psi([0.5, 0.5], [1.0, 0.0], 1e-4))
    with pytest.raises(ValueError, match="same bins"):
        psi([0.5, 0.5], [1.0], 1e-4)


def test_verdicts_follow_the_configured_thresholds():
    settings = DriftSettings()
    assert [settings.verdict(v) for v in (0.0, 0.1, 0.1001, 0.25, 0.2501)] == ["ok", "ok", "warn", "warn", "retrain"]
    assert DriftSettings.from_args({"drift_warn_psi": "0.2", "drift_retrain_psi": "0.3"}).verdict(0.25) == "warn"
    with pytest.raises(ValueError, match="drift_warn_psi must be a number, got 'high'"):
        DriftSettings.from_args({"drift_warn_psi": "high"})
    with pytest.raises(ValueError, match="warn"):
        DriftSettings(warn_psi=0.3, retrain_psi=0.2)


# --- Spark, small frames -----------------------------------------------------------------------------

def test_profile_bins_at_the_edges_counts_nulls_and_rebuilds_categories_in_one_spark_job(spark: SparkSession):
    frame = spark.createDataFrame(
        [(1.0, 1.0, 0.0, 0.0, 0.0), (2.0, 0.0, 1.0, 0.0, 0.0), (3.0, 0.0, 0.0, 0.0, 0.0), (None, 0.0, 0.0, 0.0, 1.0)],
        "amount double, channel_online double, channel_in_store double, channel_mobile double, channel_atm double")
    group = "drift-profile-test"
    spark.sparkContext.setJobGroup(group, "profile")
    try:
        result = profile(with_categories(frame, ["channel"]), {"amount": [1.0, 2.5]},
                         {"channel": ["online", "in_store", "mobile", "atm", "other"]})
        jobs = spark.sparkContext.statusTracker().getJobIdsForGroup(group)
    finally:
        spark.sparkContext.setJobGroup("", "")
    # One aggregate: adaptive execution runs its shuffle-map stage and its result stage as two jobs.
    assert len(jobs) <= 2, f"the profile should be one aggregate, ran {len(jobs)} Spark jobs"
    amount = result["amount"]
    assert (amount["counts"], amount["rows"], amount["nulls"]) == ([1, 1, 1], 4, 1)  # <=1, (1, 2.5], >2.5
    assert amount["mean"] == pytest.approx(2.0) and amount["std"] == pytest.approx(1.0)
    assert result["channel"]["counts"] == [1, 1, 0, 1, 1]  # the row without a 1 is `other`


def test_profile_names_missing_columns(spark: SparkSession):
    frame = spark.createDataFrame([(1.0,)], "amount double")
    with pytest.raises(ValueError, match=r"lacks one-hot columns \['channel_online'"):
        with_categories(frame, ["channel"])


# --- the generator's drift, measured ----------------------------------------------------------------

def test_drift_from_leaves_the_days_before_it_as_a_clean_run_writes_them(tmp_path: Path):
    def transactions_file(lake: Path, day: date) -> bytes:
        (path,) = bronze_dir(lake, TRANSACTIONS, day).iterdir()
        return path.read_bytes()

    generate(tmp_path / "clean", START, 2, 200, seed=5)
    report = generate(tmp_path / "drifted", START, 2, 200, seed=5, drift_from=START + timedelta(days=1))
    assert transactions_file(tmp_path / "clean", START) == transactions_file(tmp_path / "drifted", START)
    assert transactions_file(tmp_path / "clean", START + timedelta(days=1)) != \
        transactions_file(tmp_path / "drifted", START + timedelta(days=1))
    assert report.to_dict()["drift_from"] == "2024-03-02" and "drifted from 2024-03-02" in report.render()


def day_features(spark: SparkSession, lake: Path, day: date) -> DataFrame:
    """The day's bronze transactions as model inputs: the transaction columns the shift can move,
    computed by the model's own code; the other model columns (history, velocity) stay null here."""
    raw = spark.read.option("header", True).csv(str(bronze_dir(lake, TRANSACTIONS, day)))
    typed = raw.select(ID_COLUMN, F.col("amount").cast("double").alias("amount"), "channel", "merchant_category",
                       F.to_timestamp("event_time").alias("event_time"))
    columns = transaction_columns(typed)
    return columns.select(ID_COLUMN, *[F.col(c).cast("double").alias(c) if c in columns.columns
                                       else F.lit(None).cast("double").alias(c) for c in FEATURE_COLUMNS])


@pytest.fixture(scope="module")
def drift_lake(spark: SparkSession, tmp_path_factory) -> tuple[Path, dict[date, DataFrame]]:
    """Three generated days, drifted from the third: each day's model inputs, cached."""
    lake = tmp_path_factory.mktemp("drift") / "lake"
    generate(lake, START, 3, ROWS_PER_DAY, seed=11, drift_from=DRIFT_FROM)
    days = {START + timedelta(days=i): day_features(spark, lake, START + timedelta(days=i)).cache() for i in range(3)}
    yield lake, days
    for frame in days.values():
        frame.unpersist()


def test_drift_is_found_on_the_shifted_days_for_the_shifted_features_only(spark, drift_lake):
    _lake, days = drift_lake
    settings = DriftSettings()
    baseline = {"features": feature_profiles(days[START], settings), "score": None}
    verdicts = {}
    for day, frame in days.items():
        results = compare(baseline, current_profiles(frame, baseline), settings)
        verdicts[day] = ({r.feature for r in results if r.verdict != "ok"}, overall_verdict(results))
    assert verdicts[START] == (set(), "ok")  # the baseline's own day
    assert verdicts[START + timedelta(days=1)] == (set(), "ok"), "a clean day drifted"
    assert verdicts[DRIFT_FROM] == (SHIFTED, "retrain")


# --- the job, end to end on a small lake ------------------------------------------------------------

def write_scoring_input(layout: LakeLayout, day: date, frame: DataFrame) -> None:
    from jobs.scoring_input import FILE_NAME, scoring_partition, scoring_rows, to_json_lines

    text, _rows = to_json_lines(scoring_rows(frame))
    write_text(f"{scoring_partition(layout, day)}/{FILE_NAME}", text)


def scores_of(frame: DataFrame, day: date) -> DataFrame:
    """A stand-in score rising with the amount (the model is not what is under test here)."""
    return frame.select(ID_COLUMN, (F.lit(1.0) - F.exp(-F.col("amount") / F.lit(500.0))).alias(SCORE_FEATURE),
                        F.lit(day.isoformat()).alias("event_date"))


@pytest.mark.integration
def test_feature_drift_job_writes_table_report_and_verdicts(spark, drift_lake, capsys):
    from jobs import feature_drift
    from pipelines.cli import main as lakehouse
    from tests.frames import write_table

    source_lake, days = drift_lake
    lake = source_lake.parent / "served"
    layout = LakeLayout.from_root(str(lake))
    settings = DriftSettings()
    version = "training-2024-03-01"
    scores = {day: scores_of(frame, day) for day, frame in days.items()}
    baseline = baseline_document(DEFAULT_MODEL_NAME, version, feature_profiles(days[START], settings),
                                 score_profile(scores[START], settings), settings)
    write_json(baseline_path(layout, DEFAULT_MODEL_NAME, version), baseline)
    write_json(layout.deployed_model_pointer(DEFAULT_MODEL_NAME), {"version": version})
    clean_day, drifted_day = START + timedelta(days=1), DRIFT_FROM
    for day in (clean_day, drifted_day):
        write_scoring_input(layout, day, days[day])
    write_table(spark, lake, "gold", "fraud_scores", scores[clean_day].unionByName(scores[drifted_day]),
                ["event_date"])

    args = {"lake_root": str(lake), "pipeline": "batch_inference"}
    drifted = feature_drift.run(spark, {**args, "run_date": drifted_day.isoformat(), "run_id": "bi-drifted"})
    clean = feature_drift.run(spark, {**args, "run_date": clean_day.isoformat(), "run_id": "bi-clean"})

    assert clean["verdict"] == "ok"
    crossed = set(drifted["drift"]["retrain"]) | set(drifted["drift"]["warn"])
    assert drifted["verdict"] == "retrain" and crossed == SHIFTED
    # each date's verdict file (what the alert quotes) names the features that crossed, with their PSI
    day_verdict = json.loads(Path(layout.drift_verdict(DEFAULT_MODEL_NAME, drifted_day)).read_text())
    assert day_verdict["verdict"] == "retrain" and all(f"{f} PSI " in day_verdict["crossed"] for f in SHIFTED)
    assert json.loads(Path(layout.drift_verdict(DEFAULT_MODEL_NAME, clean_day)).read_text())["crossed"] == "none"
    # the newest date's verdict stays in latest.json after the older date ran
    assert clean["latest_verdict_updated"] is False
    assert json.loads(Path(layout.drift_verdict(DEFAULT_MODEL_NAME)).read_text())["date"] == drifted_day.isoformat()
    # the report: one plot per feature, the score included
    report = Path(drifted["drift_report"]).read_text()
    monitored = len(NUMERIC_FEATURES) + 3 + 1
    assert report.count("<img ") == monitored and "fraud_score: PSI" not in report  # titles are in the PNGs
    assert drifted["tables"]["feature_drift"]["rows_written"] == monitored
    # the score moved with the amounts; it is reported, it does not set the verdict
    assert drifted["drift"]["verdict"] == "retrain"

    assert lakehouse(["drift", "--lake-root", str(lake), "--date", drifted_day.isoformat(), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert set(printed) == {"date", "features"} and printed["date"] == drifted_day.isoformat()
    assert {n for n, v in printed["features"].items() if v["verdict"] != "ok"} == SHIFTED
    assert set(printed["features"]["amount"]) == {"psi", "verdict"} and SCORE_FEATURE not in printed["features"]
    assert lakehouse(["drift", "--lake-root", str(lake), "--date", clean_day.isoformat()]) == 0
    text = capsys.readouterr().out
    assert f"feature drift {clean_day} (batch_inference) against model {version}'s training baseline: ok" in text
    assert lakehouse(["drift", "--lake-root", str(lake), "--date", "2024-02-01"]) == 2
    assert "no drift measured for 2024-02-01" in capsys.readouterr().err


@pytest.mark.integration
def test_the_baseline_job_records_the_training_split_and_the_held_out_scores(spark, tmp_path):
    """jobs.ml.drift_baseline on a gold training_set and a trained model: every monitored input profiled
    from the train split, the score profiled from the model's scores on the holdout split."""
    import shutil

    from jobs.drift.features import CATEGORICAL_GROUPS
    from jobs.ml import drift_baseline
    from jobs.ml.model_bundle import BUNDLE_FILE
    from tests.frames import write_table
    from tests.test_batch_inference import trained_bundle_dir
    from tests.test_training_pipeline import tiny_training_rows

    layout = LakeLayout.from_root(str(tmp_path / "lake"))
    version, as_of = "training-2024-03-03", "2024-03-03"
    version_folder = Path(layout.model_version(DEFAULT_MODEL_NAME, version))
    version_folder.mkdir(parents=True)
    shutil.copy(trained_bundle_dir(tmp_path) / BUNDLE_FILE, version_folder / BUNDLE_FILE)
    rows = tiny_training_rows(9, [START, START + timedelta(days=1)], rows_per_day=120)
    rows["split"] = ["train"] * 120 + ["holdout"] * 120
    rows["as_of_date"] = as_of
    write_table(spark, layout, "gold", "training_set", spark.createDataFrame(rows), ("as_of_date", "split"))

    report = drift_baseline.run(spark, {"lake_root": str(tmp_path / "lake"), "run_date": as_of, "run_id": version,
                                        "pipeline": "training"})

    baseline = json.loads(Path(baseline_path(layout, DEFAULT_MODEL_NAME, version)).read_text())
    assert report["training_rows"] == 120 and report["holdout_scores"] == 120
    assert set(baseline["features"]) == {*NUMERIC_FEATURES, *CATEGORICAL_GROUPS}
    amount = baseline["features"]["amount"]  # uniform 0..1 in these rows: nine distinct decile edges
    assert len(amount["edges"]) == 9 and sum(amount["counts"]) == 120 and amount["nulls"] == 0
    assert baseline["score"]["rows"] == 120 and 0.0 <= baseline["score"]["mean"] <= 1.0
