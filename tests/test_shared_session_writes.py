"""Job runs that share one SparkSession (locally: a wave's datasets, parallel backfill dates) stage
their writes at the same time. `spark.wap.id` is a session setting, so each staged write must still be
staged under its own id and never land on `main` before its run publishes it."""

from __future__ import annotations

import threading
from pathlib import Path

from pyspark.sql import functions as F

from jobs.lake import LakeLayout
from jobs.tables import current_snapshot, ensure_table, lake_catalog, publish, stage_overwrite
from tests.frames import assert_rows

WRITES_PER_RUN = 4


def test_concurrent_staged_writes_in_one_session_stay_staged_under_their_own_run(spark, tmp_path: Path):
    catalog = lake_catalog(spark, LakeLayout.from_root(str(tmp_path / "lake")))
    schema = "run string, n int"
    refs = {run: catalog.table("silver", f"shared_{run}") for run in ("a", "b", "c")}
    for ref in refs.values():
        ensure_table(spark, ref, spark.createDataFrame([], schema).schema, ())
    staged: dict[str, list] = {run: [] for run in refs}
    errors: list[BaseException] = []
    start = threading.Barrier(len(refs))

    def run(name: str) -> None:
        try:
            start.wait()
            for n in range(WRITES_PER_RUN):
                rows = spark.createDataFrame([(name, n)], schema)
                staged[name].append(stage_overwrite(spark, refs[name], rows, F.lit(True), run_id=f"run-{name}",
                                                    job="test", read_snapshot=None))
        except BaseException as error:  # reported below, with the run it belongs to
            errors.append(error)

    threads = [threading.Thread(target=run, args=(name,)) for name in refs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    for name, ref in refs.items():
        assert current_snapshot(spark, ref) is None, f"a write of run {name} reached main before its publish"
        summaries = {int(r[0]): r[1] for r in spark.sql(
            f"SELECT snapshot_id, summary['wap.id'] FROM {ref.identifier}.snapshots").collect()}
        assert [summaries[s.staged_snapshot].split("/")[0] for s in staged[name]] == [f"run-{name}"] * WRITES_PER_RUN
    publish(spark, staged["b"][-1])
    assert_rows(spark.table(refs["b"].identifier), [{"run": "b", "n": WRITES_PER_RUN - 1}])
    assert current_snapshot(spark, refs["a"]) is None
