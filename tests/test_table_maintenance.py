"""Table maintenance after a month of nightly runs: retention of rows by the table format, compaction,
snapshot expiry keeping a minimum, orphan files removed; counts kept and every reader still reads.

The month is 30 daily commits through the jobs' own write path (stage, then publish), each writing its
day as two small files, plus a run refused by its audit (a staged snapshot never published) and the
files a killed run leaves (data files in the table's folder that no snapshot references; the real
kill -9 runs are in test_iceberg_concurrency.py). The clock is injected: nothing waits for days.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs import maintain_tables
from jobs.lake import LakeLayout
from jobs.storage import read_json
from jobs.tables import (
    ensure_table,
    lake_catalog,
    lake_table,
    partition_predicate,
    publish,
    stage_overwrite,
    stage_table_write,
)
from pipelines import cli
from pipelines.lake_tables import (
    RollbackRefused,
    duckdb_connection,
    duckdb_scan,
    open_local,
    plan_rollback,
    rollback,
    run_manifest,
)
from pipelines.local_run import local_pipelines
from tests.frames import assert_rows, data_files_of

pytestmark = pytest.mark.integration

RUN_DATE = date(2025, 1, 16)
SILVER_DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(30)]
GOLD_DAYS = [date(2022, 1, 1) + timedelta(days=i) for i in range(30)]
SILVER_CUTOFF = RUN_DATE - timedelta(days=maintain_tables.RETENTION["silver"].rows_days)
GOLD_CUTOFF = RUN_DATE - timedelta(days=maintain_tables.RETENTION["gold"].rows_days)
NOW = datetime.now(UTC) + timedelta(days=8)  # every snapshot is then older than the 7-day retention
MIN_SNAPSHOTS = maintain_tables.RETENTION["silver"].min_snapshots


SILVER_PARTITIONS = ("year", "month", "day")


def silver_partition(day: date) -> tuple[str, str, str]:
    return f"{day:%Y}", f"{day:%m}", f"{day:%d}"


def silver_day(spark, day: date, rows: int = 20, tag: str = "E"):
    year, month, day_of_month = silver_partition(day)
    return spark.range(rows).select(
        F.concat(F.lit(f"{tag}{day:%Y%m%d}-"), F.col("id").cast("string")).alias("event_id"),
        (F.col("id") * 1.5).alias("amount"),
        F.lit(year).alias("year"), F.lit(month).alias("month"), F.lit(day_of_month).alias("day"))


def gold_day(spark, day: date, rows: int = 6):
    return spark.range(rows).select(F.col("id").alias("merchant"), F.lit(day).alias("event_date"),
                                    (F.col("id") * 10).alias("total"))


@pytest.fixture(scope="module")
def month(spark, tmp_path_factory) -> dict:
    lake = tmp_path_factory.mktemp("maintenance") / "lake"
    layout = LakeLayout.from_root(str(lake))
    catalog = lake_catalog(spark, layout)
    silver, gold = catalog.table("silver", "events"), catalog.table("gold", "daily")
    ensure_table(spark, silver, silver_day(spark, SILVER_DAYS[0]).schema, SILVER_PARTITIONS)
    ensure_table(spark, gold, gold_day(spark, GOLD_DAYS[0]).schema, ("event_date",))
    heads: dict[str, int | None] = {silver.display: None, gold.display: None}

    def commit(ref, df, replaced, run_id: str) -> None:
        staged = stage_overwrite(spark, ref, df, replaced, run_id=run_id, job="test", read_snapshot=heads[ref.display])
        heads[ref.display] = publish(spark, staged)

    for number, (s_day, g_day) in enumerate(zip(SILVER_DAYS, GOLD_DAYS, strict=True), start=1):
        run_id = f"night-{number:02d}"
        commit(silver, silver_day(spark, s_day), partition_predicate(SILVER_PARTITIONS, [silver_partition(s_day)]),
               run_id)
        if number % 3 == 0:  # late records: appended to the two days before, a second file in each
            late = [s_day - timedelta(days=1), s_day - timedelta(days=2)]
            commit(silver, silver_day(spark, late[0], 2, tag="late").unionByName(
                silver_day(spark, late[1], 2, tag="late")), None, run_id)
        commit(gold, gold_day(spark, g_day), F.col("event_date") == F.lit(g_day), run_id)
    refused = stage_table_write(spark, silver, silver_day(spark, SILVER_DAYS[-1], 3), SILVER_PARTITIONS,
                                F.col("day") == "30", run_id="refused-by-audit", job="test")
    killed_folder = Path(silver.location.replace("file:", "")) / "data" / "year=2024" / "month=01" / "day=30"
    silver_day(spark, SILVER_DAYS[-1], 5).drop("year", "month", "day").write.mode("append").parquet(
        str(killed_folder / "killed-run"))
    leftovers = {str(p) for p in (killed_folder / "killed-run").glob("*.parquet")}

    before = {t.display: lake_table(spark, lake, t.layer, t.display.split(".")[1]).collect() for t in (silver, gold)}
    files_before = spark.sql(f"SELECT count(*) FROM {silver.identifier}.files").first()[0]
    snapshots_before = {r[0] for r in spark.sql(f"SELECT snapshot_id FROM {silver.identifier}.snapshots").collect()}
    args = ["maintain", "--lake-root", str(lake), "--date", RUN_DATE.isoformat(), "--now", NOW.isoformat(), "--json",
            "--dry-run"]
    with redirect_stdout(io.StringIO()) as printed:  # the plan: through the command line
        assert cli.main(args) == 0
    plan = json.loads(printed.getvalue())
    unchanged_by_plan = (spark.sql(f"SELECT count(*) FROM {silver.identifier}.files").first()[0] == files_before
                         and all(Path(p).exists() for p in leftovers))
    with local_pipelines(lake, spark_factory=lambda: spark) as pipelines:  # the real run: through its ASL
        run = pipelines.run("maintenance", RUN_DATE, extra_input={"now": NOW.isoformat()})
    assert run.status == "SUCCEEDED", run.error_message
    report = read_json(layout.job_report("maintenance", RUN_DATE, run.run_id, maintain_tables.JOB_NAME))
    return {"lake": lake, "layout": layout, "silver": silver, "gold": gold, "before": before, "plan": plan,
            "report": report, "leftovers": leftovers, "refused": refused.staged_snapshot,
            "snapshots_before": snapshots_before, "unchanged_by_plan": unchanged_by_plan}


def outcome(report: dict, table: str) -> dict:
    return next(t for t in report["maintained"] if t["table"] == table)


def test_rows_past_retention_are_deleted_and_every_other_row_kept(spark, month):
    for table, cutoff, day_of in (("silver.events", SILVER_CUTOFF,
                                   lambda r: date(int(r["year"]), int(r["month"]), int(r["day"]))),
                                  ("gold.daily", GOLD_CUTOFF, lambda r: r["event_date"])):
        kept = [r.asDict() for r in month["before"][table] if day_of(r) >= cutoff]
        old = len(month["before"][table]) - len(kept)
        assert 0 < old < len(month["before"][table]), "the month must straddle the retention cutoff"
        after = lake_table(spark, month["lake"], *table.split("."))
        assert_rows(after, kept)
        done = outcome(month["report"], table)
        assert (done["rows_before"], done["rows_deleted"], done["rows_after"]) == (len(kept) + old, old, len(kept))
        assert done["retention_cutoff"] == cutoff.isoformat()


def test_compaction_leaves_one_file_per_partition(spark, month):
    for ref in (month["silver"], month["gold"]):
        per_partition = spark.sql(f"SELECT partition, count(*) AS files FROM {ref.identifier}.files "
                                  f"GROUP BY partition").collect()
        assert per_partition and {r["files"] for r in per_partition} == {1}, ref.display
    # silver's kept days that received late records had two files each; gold's had one, left alone
    late_kept = [d for d in SILVER_DAYS if d >= SILVER_CUTOFF and d.day % 3 in (1, 2) and d.day <= 29]
    assert outcome(month["report"], "silver.events")["files_compacted"] == 2 * len(late_kept)
    assert outcome(month["report"], "gold.daily")["files_compacted"] == 0


def test_snapshots_past_retention_are_expired_keeping_the_minimum(spark, month):
    silver = month["silver"]
    snapshots = {r[0] for r in spark.sql(f"SELECT snapshot_id FROM {silver.identifier}.snapshots").collect()}
    lineage = spark.sql(f"SELECT snapshot_id FROM {silver.identifier}.history WHERE is_current_ancestor").collect()
    assert len(snapshots) == MIN_SNAPSHOTS  # 30 nights + retention delete + compaction, all older than 7 days
    assert {r[0] for r in lineage} >= snapshots
    assert month["refused"] in month["snapshots_before"] and month["refused"] not in snapshots
    done = outcome(month["report"], "silver.events")
    assert done["snapshots_expired"] == len(month["snapshots_before"]) + 2 - MIN_SNAPSHOTS  # + delete, compaction
    assert done["files_deleted_by_expiry"] > 0


def test_orphans_of_a_killed_run_are_removed_and_no_unreferenced_file_remains(spark, month):
    silver = month["silver"]
    assert month["leftovers"] and not any(Path(p).exists() for p in month["leftovers"])
    removed = {p.replace("file:", "") for p in outcome(month["report"], "silver.events")["orphan_files"]}
    assert month["leftovers"] <= removed
    for ref in (silver, month["gold"]):
        on_disk, referenced = data_files_of(spark, ref)
        assert on_disk == referenced, ref.display


def test_the_dry_run_plans_what_the_run_does_and_changes_nothing(month):
    assert month["unchanged_by_plan"]
    for table in ("silver.events", "gold.daily"):
        planned, done = outcome(month["plan"], table), outcome(month["report"], table)
        assert planned["rows_deleted"] == done["rows_deleted"]
        own_commits = int(done["rows_deleted"] > 0) + int(done["files_compacted"] > 0)  # also old by the clock
        assert planned["snapshots_expired"] == done["snapshots_expired"] - own_commits
        assert planned["orphan_files"] == done["orphan_files"]


def test_spark_pyiceberg_and_duckdb_read_the_maintained_tables_alike(spark, month):
    lake = open_local(month["lake"])
    duckdb = duckdb_connection()
    for table in ("silver.events", "gold.daily"):
        spark_rows = lake_table(spark, month["lake"], *table.split(".")).count()
        assert lake.load(table).scan().to_arrow().num_rows == spark_rows
        assert duckdb.execute(f"SELECT count(*) FROM {duckdb_scan(lake, table)}").fetchone()[0] == spark_rows


def test_rolling_back_a_run_whose_snapshot_was_expired_is_refused_by_name(spark, month):
    silver = month["silver"]
    kept = {r[0] for r in spark.sql(f"SELECT snapshot_id FROM {silver.identifier}.snapshots").collect()}
    expired = min(month["snapshots_before"] - kept)
    current = spark.sql(f"SELECT snapshot_id FROM {silver.identifier}.refs WHERE name = 'main'").first()[0]
    manifest = {"run_id": "night-07", "tables": {"silver.events": {"snapshot_before": expired,
                                                                   "snapshot_after": current}}}
    with pytest.raises(RollbackRefused, match=rf"night-07 .* expired by table maintenance in silver.events "
                                              rf"\(snapshot {expired}\)"):
        plan_rollback(open_local(month["lake"]), manifest)


def test_a_maintenance_run_can_be_rolled_back_while_its_snapshots_are_kept(spark, month):
    manifest = run_manifest(month["layout"], month["report"]["run_id"])
    assert set(manifest["tables"]) == {"silver.events", "gold.daily"}
    rollback(open_local(month["lake"]), manifest)
    for table in ("silver.events", "gold.daily"):
        assert_rows(lake_table(spark, month["lake"], *table.split(".")),
                    [r.asDict() for r in month["before"][table]])


def test_a_table_that_fails_midway_is_named_and_its_committed_step_stays_undoable(spark, tmp_path, monkeypatch):
    """Retention deleted, then compaction failed: the run fails naming the table, the other table is
    maintained, and the report keeps the table's snapshots so that `rollback --run` can undo the delete."""
    lake = tmp_path / "lake"
    layout = LakeLayout.from_root(str(lake))
    catalog = lake_catalog(spark, layout)
    silver, gold = catalog.table("silver", "events"), catalog.table("gold", "daily")
    for day in SILVER_DAYS[:2]:
        publish(spark, stage_table_write(spark, silver, silver_day(spark, day, 3), SILVER_PARTITIONS,
                                         partition_predicate(SILVER_PARTITIONS, [silver_partition(day)]),
                                         run_id=f"load-{day}", job="test"))
    publish(spark, stage_table_write(spark, gold, gold_day(spark, GOLD_DAYS[0], 2), ("event_date",),
                                     F.col("event_date") == F.lit(GOLD_DAYS[0]), run_id="load", job="test"))
    real_compact = maintain_tables.compact

    def compaction_conflict(spark_session, ref, run_id):
        if ref.display == "silver.events":
            raise RuntimeError("ValidationException: files were rewritten by another run")
        return real_compact(spark_session, ref, run_id)

    monkeypatch.setattr(maintain_tables, "compact", compaction_conflict)
    with pytest.raises(maintain_tables.MaintenanceError, match=r"1 of 2 table\(s\) .* silver.events: RuntimeError"):
        maintain_tables.run(spark, {"run_date": "2025-01-01", "run_id": "maintenance-midway", "lake_root": str(lake)})
    report = read_json(layout.job_report("maintenance", date(2025, 1, 1), "maintenance-midway",
                                         maintain_tables.JOB_NAME))
    failed = outcome(report, "silver.events")
    assert failed["error"] and failed["snapshot_after"] != failed["snapshot_before"]  # the delete committed
    assert lake_table(spark, lake, "silver", "events").count() == 3  # 2024-01-01 is past the 365 days; 01-02 not
    assert report["tables"]["silver.events"]["snapshot_before"] == failed["snapshot_before"]
    assert outcome(report, "gold.daily")["error"] is None
