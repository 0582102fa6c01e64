"""Deduplication on the key: only contested keys are ranked; the latest version wins."""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import functions as F

from jobs.silver.dedupe import (
    EXISTING_PARTITIONS,
    EXISTING_TIME,
    SUPERSEDED,
    VERSIONS,
    contested_keys,
    losing_rows,
    match_window,
    versions_of_batch_keys,
    with_partition_columns,
)
from tests.frames import assert_rows

SCHEMA = "id string, ts timestamp, _source_file string, v string"


def batch(spark, rows):
    return spark.createDataFrame(rows, SCHEMA).withColumn("_row_id", F.monotonically_increasing_id())


def winners(rows, contested):
    losers = losing_rows(rows, contested, ["id"], "ts", ["id", "ts", "v"], "_row_id")
    return rows.join(losers, on="_row_id", how="left_anti").drop("_row_id")


def existing(spark, rows):
    """Silver's versions: key, event time and the partition that time falls in."""
    frame = spark.createDataFrame(rows, f"id string, {EXISTING_TIME} timestamp")
    return with_partition_columns(frame, EXISTING_TIME)


def at(hour: int) -> datetime:
    return datetime(2024, 1, 3, hour)


def test_only_keys_sent_twice_or_already_in_silver_are_contested(spark):
    rows = batch(spark, [("a", at(1), "f1", "x"), ("b", at(1), "f1", "x"), ("b", at(2), "f1", "y"),
                         ("c", at(5), "f1", "x"), ("d", at(5), "f1", "x")])
    silver = existing(spark, [("c", at(6)), ("d", at(5)), ("z", at(1))])
    contested = contested_keys(rows, silver, ["id"], "ts")
    assert_rows(contested, [
        {"id": "b", VERSIONS: 2, EXISTING_TIME: None, SUPERSEDED: False},
        {"id": "c", VERSIONS: 1, EXISTING_TIME: at(6), SUPERSEDED: True},  # silver's version is newer
        {"id": "d", VERSIONS: 1, EXISTING_TIME: at(5), SUPERSEDED: False},  # same time: a re-run, the batch wins
    ])
    assert_rows(contested_keys(rows, None, ["id"], "ts"), [
        {"id": "b", VERSIONS: 2, EXISTING_TIME: None, SUPERSEDED: False}])


def test_the_latest_version_wins_and_ties_are_broken_the_same_way_every_time(spark):
    rows = batch(spark, [("a", at(1), "f1", "x"), ("b", at(1), "f1", "old"), ("b", at(2), "f1", "new"),
                         ("c", at(5), "f1", "x"), ("t", at(3), "f1", "p"), ("t", at(3), "f2", "q"),
                         ("u", at(3), "f1", "p"), ("u", at(3), "f1", "q")])
    contested = contested_keys(rows, existing(spark, [("c", at(6))]), ["id"], "ts")
    won = winners(rows, contested)
    assert won.columns == ["id", "ts", "_source_file", "v"]
    got = {r["id"]: r["v"] for r in won.collect()}
    assert len(got) == won.count()  # one row per key
    # a: uncontested, passes through; b: the later version; t: same time, the later file wins;
    # c: silver holds a newer version, so the batch's row is a duplicate
    assert {k: v for k, v in got.items() if k != "u"} == {"a": "x", "b": "new", "t": "q"}
    # u: same time and file, so the content hash decides, identically on every run
    assert {winners(rows, contested).where("id = 'u'").first()["v"] for _ in range(3)} == {got["u"]}


def test_the_match_window_spans_the_days_around_each_batch_day():
    assert match_window([("2024", "03", "01")], 1) == [("2024", "02", "29"), ("2024", "03", "01"),
                                                       ("2024", "03", "02")]
    assert match_window([("2024", "03", "01"), ("2023", "12", "31")], 0) == [("2023", "12", "31"),
                                                                             ("2024", "03", "01")]
    assert match_window([("2024", "03", "01")], None) is None  # all of silver


def test_with_a_match_window_only_silver_versions_near_the_keys_own_event_dates_count(spark):
    day = lambda d, h=12: datetime(2024, 1, d, h)  # noqa: E731
    rows = batch(spark, [("a", day(10), "f1", "x"), ("b", day(10), "f1", "x"), ("b", day(20), "f1", "y"),
                         ("c", day(20), "f1", "x")])
    silver = existing(spark, [("a", day(7, 0)), ("b", day(6)), ("b", day(23, 23)), ("c", day(10))])
    assert_rows(contested_keys(rows, silver, ["id"], "ts", match_window_days=3), [
        {"id": "a", EXISTING_TIME: day(7, 0), SUPERSEDED: False,  # 3 days before: in
         EXISTING_PARTITIONS: [{"year": "2024", "month": "01", "day": "07"}]},
        {"id": "b", EXISTING_TIME: day(23, 23), SUPERSEDED: True,  # 3 days after the latest: in, and newer
         EXISTING_PARTITIONS: [{"year": "2024", "month": "01", "day": "23"}]},
    ])  # b's day 6 is 4 days before its earliest; c's day 10 is 10 days before its only date
    assert_rows(contested_keys(rows, silver, ["id"], "ts"), [  # without a window: all of them
        {"id": "a", EXISTING_PARTITIONS: [{"year": "2024", "month": "01", "day": "07"}]},
        {"id": "b", EXISTING_PARTITIONS: [{"year": "2024", "month": "01", "day": "06"},
                                          {"year": "2024", "month": "01", "day": "23"}]},
        {"id": "c", EXISTING_PARTITIONS: [{"year": "2024", "month": "01", "day": "10"}]}])


def test_only_silver_versions_of_the_batch_keys_go_on_to_the_join(spark):
    rows = spark.createDataFrame([("a", "1"), ("b", "1"), ("b", "1")], "id string, part string")
    silver = spark.createDataFrame([("a", "1", at(1)), ("a", "2", at(1)), ("b", "2", at(2)), ("c", "1", at(3)),
                                    ("b", "3", at(4))], f"id string, part string, {EXISTING_TIME} timestamp")
    assert_rows(versions_of_batch_keys(silver, rows, ["id", "part"]), [
        {"id": "a", "part": "1", EXISTING_TIME: at(1)}])
    assert_rows(versions_of_batch_keys(silver, rows, ["id"]), [
        {"id": "a", "part": "1"}, {"id": "a", "part": "2"}, {"id": "b", "part": "2"}, {"id": "b", "part": "3"}])
