"""Publishing partitions: what is listed is replaced, emptied or left alone, and the result says which."""

from __future__ import annotations

from pathlib import Path

from jobs.bronze_to_silver import runs_presidio
from jobs.contracts import load_contract
from jobs.publish import publish_partitions, read_partitions, table_exists, table_partitions


def test_listed_partitions_are_replaced_or_removed_and_untouched_ones_are_not_reported(spark, tmp_path: Path):
    table = tmp_path / "t"
    spark.createDataFrame([("a", "1"), ("b", "2")], "v string, day string").write.partitionBy("day").parquet(
        str(table))
    content = spark.createDataFrame([("c", "1")], "v string, day string")
    published = publish_partitions(content, str(table), [("1",), ("2",), ("3",)], str(tmp_path / "staging"),
                                   columns=("day",))
    assert published == [("1",), ("2",)]  # 1 replaced, 2 emptied (removed); 3 held nothing and gets nothing
    assert sorted(r.v for r in spark.read.parquet(str(table)).collect()) == ["c"]
    assert not (table / "day=2").exists() and not (tmp_path / "staging").exists()


def test_the_gate_persists_its_candidates_only_when_presidio_runs_per_row():
    tickets, transactions = load_contract("support_tickets"), load_contract("transactions")
    assert runs_presidio(tickets, {"discovery": []})  # the body is redacted
    assert not runs_presidio(transactions, {"discovery": []})
    assert runs_presidio(transactions, {"discovery": [{"column": "promo_code", "action": "mask_and_alert"}]})
    assert not runs_presidio(transactions, {"discovery": [{"column": "promo_code", "action": "quarantine_column"}]})


def test_a_table_is_its_full_depth_partitions_and_only_the_named_ones_are_read(spark, tmp_path: Path):
    table = tmp_path / "t"
    rows = [("a", "2024", "01", "01"), ("b", "2024", "01", "02"), ("c", "2024", "02", "01")]
    spark.createDataFrame(rows, "v string, year string, month string, day string").write.partitionBy(
        "year", "month", "day").parquet(str(table))
    (table / "year=2023" / "month=12").mkdir(parents=True)  # left empty when its last day was removed
    assert table_partitions(str(table)) == [("2024", "01", "01"), ("2024", "01", "02"), ("2024", "02", "01")]
    read = read_partitions(spark, str(table), [("2024", "01", "02"), ("2024", "02", "01"), ("2023", "12", "31")])
    assert sorted((r.v, r.year, r.month, r.day) for r in read.collect()) == [
        ("b", "2024", "01", "02"), ("c", "2024", "02", "01")]  # partition values stay zero-padded strings
    assert read_partitions(spark, str(table), [("2023", "12", "31")]) is None
    assert read_partitions(spark, str(table)).count() == 3


def test_a_folder_holding_only_emptied_parents_is_not_a_table(tmp_path: Path):
    (tmp_path / "t" / "year=2024" / "month=03").mkdir(parents=True)
    assert not table_exists(str(tmp_path / "t"))
    assert not table_exists(str(tmp_path / "missing"))
