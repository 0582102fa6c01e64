"""Silver, gold and quarantine as Iceberg tables, through the real pipeline: one commit per table per
run, history, rollback of a run (all or none, refused under a later run), and readers outside Spark
(pyiceberg, DuckDB) that see what Spark sees."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from jobs.tables import lake_table
from pipelines import cli
from pipelines.lake_tables import duckdb_connection, duckdb_scan, history, open_local, snapshot_of_run, to_pandas
from tests.shared_lake import DAYS, START, IngestedLake, table_rows

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def three_days(ingested_lake: IngestedLake) -> dict[str, Any]:
    """The session's dirty lake (tests/shared_lake.py): days 1 and 2 ingested, the content of every
    table captured, then day 3 ingested."""
    return {"lake": ingested_lake.root, "after_day_2": ingested_lake.after_day_2}


@pytest.fixture
def restore_current_snapshots(three_days) -> Iterator[None]:
    """Other modules read the same lake: put every table back on the snapshot it was on."""
    tables = open_local(three_days["lake"])
    before = {name: tables.load(name).metadata.current_snapshot_id for name in tables.names()}
    yield
    for name, snapshot_id in before.items():
        table = tables.load(name)
        if table.metadata.current_snapshot_id != snapshot_id:
            table.manage_snapshots().set_current_snapshot(snapshot_id=snapshot_id).commit()


def run_id(day: int) -> str:
    return f"ingestion-{START + timedelta(days=day - 1)}"


def test_each_run_is_one_commit_per_table_named_with_its_run(three_days):
    tables = open_local(three_days["lake"])
    for name in tables.names():
        published = [row for row in history(tables.load(name)) if row["state"] in ("published", "current")]
        assert [row["run_id"] for row in published] == [run_id(d) for d in range(1, DAYS + 1)], name


def test_duckdb_and_pyiceberg_read_every_table_with_sparks_counts(spark, three_days):
    lake = three_days["lake"]
    tables = open_local(lake)
    connection = duckdb_connection()
    names = tables.names()
    assert {n.split(".")[0] for n in names} == {"silver", "gold", "quarantine"}
    for name in names:
        layer, table = name.split(".")
        spark_count = lake_table(spark, lake, layer, table).count()
        assert len(to_pandas(tables, name)) == spark_count, name
        assert connection.execute(f"SELECT count(*) FROM {duckdb_scan(tables, name)}").fetchone()[0] == spark_count, \
            name


def test_a_table_as_of_a_run_loads_into_pandas(spark, three_days):
    lake = three_days["lake"]
    tables = open_local(lake)
    as_of_day_2 = snapshot_of_run(tables, "silver.transactions", run_id(2))
    frame = to_pandas(tables, "silver.transactions", snapshot_id=as_of_day_2)
    assert len(frame) == len(three_days["after_day_2"]["silver.transactions"])
    assert set(frame["_run_id"]) <= {run_id(1), run_id(2)}


def test_rollback_is_refused_under_a_later_run_then_undoes_the_last_run_exactly(spark, three_days, capsys,
                                                                                restore_current_snapshots):
    lake = three_days["lake"]
    tables = open_local(lake)
    before = {name: tables.load(name).metadata.current_snapshot_id for name in tables.names()}

    assert cli.main(["rollback", "--run", run_id(2), "--lake-root", str(lake)]) == 2
    refused = capsys.readouterr().err
    assert f"committed by run {run_id(3)}" in refused and "nothing was changed" in refused
    assert {name: tables.load(name).metadata.current_snapshot_id for name in tables.names()} == before

    assert cli.main(["rollback", "--run", run_id(3), "--lake-root", str(lake)]) == 0
    assert "rolled back silver.transactions" in capsys.readouterr().out
    for name, rows in three_days["after_day_2"].items():
        assert table_rows(spark, lake, name) == rows, name  # as after day 2, row for row
    rolled = [row for row in history(open_local(lake).load("silver.transactions")) if row["run_id"] == run_id(3)]
    assert [row["state"] for row in rolled] == ["rolled back"]

    assert cli.main(["rollback", "--run", run_id(3), "--lake-root", str(lake)]) == 0  # again: nothing to do
    assert "nothing to do" in capsys.readouterr().out


def test_history_lists_a_tables_snapshots(three_days, capsys):
    assert cli.main(["history", "silver.customers", "--lake-root", str(three_days["lake"])]) == 0
    out = capsys.readouterr().out
    assert out.startswith("silver.customers: ")
    assert all(run_id(d) in out for d in range(1, DAYS + 1))
    assert cli.main(["history", "silver.nope", "--lake-root", str(three_days["lake"])]) == 2
    assert "no table silver.nope in this lake (tables: gold.customer_features" in capsys.readouterr().err
