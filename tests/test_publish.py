"""Publishing partitions: what is listed is replaced, emptied or left alone, and the result says which."""

from __future__ import annotations

from pathlib import Path

from jobs.bronze_to_silver import runs_presidio
from jobs.contracts import load_contract
from jobs.publish import publish_partitions


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
