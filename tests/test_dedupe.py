"""Deduplication on the key: only contested keys are ranked; the latest version wins."""

from __future__ import annotations

from datetime import datetime

from jobs.silver.dedupe import EXISTING_TIME, SUPERSEDED, VERSIONS, contested_keys, latest_versions
from tests.frames import assert_rows

SCHEMA = "id string, ts timestamp, _source_file string, v string"


def batch(spark, rows):
    return spark.createDataFrame(rows, SCHEMA)


def existing(spark, rows):
    return spark.createDataFrame(rows, f"id string, {EXISTING_TIME} timestamp")


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
    winners = latest_versions(rows, contested, ["id"], "ts", ["id", "ts", "v"])
    assert winners.columns == rows.columns
    expected = [{"id": "a", "v": "x"}, {"id": "b", "v": "new"}, {"id": "t", "v": "q"}]  # t: the later file wins
    got = {r["id"]: r["v"] for r in winners.collect()}
    assert {k: v for k, v in got.items() if k != "u"} == {e["id"]: e["v"] for e in expected}
    assert "c" not in got  # superseded by silver
    # u: same time and file, so the content hash decides, identically on every run
    assert {latest_versions(rows, contested, ["id"], "ts", ["id", "ts", "v"]).where("id = 'u'").first()["v"]
            for _ in range(3)} == {got["u"]}
