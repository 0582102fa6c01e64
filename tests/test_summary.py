"""`lakehouse status`: one line per run, saying what that kind of run did."""

from __future__ import annotations

import json

from pipelines import cli
from pipelines.summary import manifest_lines, status_table, took


def status_line(manifest: dict) -> str:
    """The run's row of the status table (under its header and rule)."""
    [header, _rule, row] = status_table([manifest]).splitlines()
    assert header.split()[:4] == ["finished", "pipeline", "run", "date"]
    return row


BASE = {"finished_at": "2024-01-04T01:00:00+00:00", "run_date": "2024-01-03", "status": "SUCCEEDED",
        "error": None, "totals": {"bronze_rows": 0, "silver_rows": 0, "quarantined_rows": 0, "duplicate_rows": 0}}


def test_an_ingestion_run_shows_its_row_counts():
    manifest = {**BASE, "pipeline": "ingestion", "run_id": "ingestion-2024-01-03",
                "datasets": {"transactions": {}},
                "totals": {"bronze_rows": 5417, "silver_rows": 5215, "quarantined_rows": 122, "duplicate_rows": 80}}
    assert status_line(manifest).endswith("bronze 5,417 silver 5,215 quarantined 122 duplicates 80")


def test_a_training_run_shows_the_models_auc_against_what_it_was_compared_with_and_the_decision():
    manifest = {**BASE, "pipeline": "training", "run_id": "training-2024-01-03", "datasets": {},
                "jobs": {"evaluate_model": {"auc": 0.8204, "baseline_auc": 0.7427, "champion_auc": None},
                         "record_model": {"decision": "deployed"}}}
    line = status_line(manifest)
    assert line.endswith("model AUC 0.820 vs baseline 0.743: deployed")
    assert "bronze" not in line  # a training run promotes no rows; zeros would mislead


def test_a_batch_inference_run_shows_the_tables_it_wrote_and_the_flagged_scores():
    manifest = {**BASE, "pipeline": "batch_inference", "run_id": "batch_inference-2024-01-03", "datasets": {},
                "jobs": {"scoring_input": {"tables": {"scoring_input": {"rows_written": 4885}}},
                         "store_scores": {"flagged": 56, "tables": {"fraud_scores": {"rows_written": 4885}}}}}
    assert status_line(manifest).endswith("scoring_input 4,885 rows, fraud_scores 4,885 rows (56 flagged)")


def test_a_maintenance_run_shows_what_it_deleted_compacted_expired_and_removed():
    tables = [{"table": "silver.transactions", "rows_deleted": 9920, "files_compacted": 4, "snapshots_expired": 2,
               "orphan_files": ["a", "b"], "error": None},
              {"table": "gold.daily_merchant_metrics", "rows_deleted": 0, "files_compacted": 0, "snapshots_expired": 1,
               "orphan_files": [], "error": "ValidationException: conflict"}]
    manifest = {**BASE, "pipeline": "maintenance", "run_id": "maintenance-2024-01-03", "datasets": {},
                "jobs": {"maintain_tables": {"maintained": tables, "tables": {}}}}
    assert status_line(manifest).endswith(
        "2 tables: 9,920 rows past retention deleted, 4 files compacted, 3 snapshots expired, "
        "2 orphan files removed; FAILED: gold.daily_merchant_metrics")


def test_a_run_that_failed_before_doing_anything_shows_its_error():
    manifest = {**BASE, "pipeline": "training", "run_id": "training-2024-01-03", "status": "FAILED",
                "datasets": {}, "jobs": {}, "error": "States.TaskFailed: training_set: no labelled rows"}
    line = status_line(manifest)
    assert "FAILED" in line and line.endswith("  States.TaskFailed: training_set: no labelled rows")


def test_a_line_shows_how_long_the_run_took_when_the_manifest_knows():
    manifest = {**BASE, "pipeline": "ingestion", "run_id": "ingestion-2024-01-03", "datasets": {"x": {}},
                "duration_seconds": 725.4}
    assert "SUCCEEDED  12m05s  ingestion-2024-01-03" in status_line(manifest)
    assert "SUCCEEDED" + " " * 8 + "ingestion-2024-01-03" in status_line({**manifest, "duration_seconds": None})
    assert [took(s) for s in (None, 0.4, 59.6, 61, 3600, 7385)] == ["", "0s", "1m00s", "1m01s", "1h00m", "2h03m"]


def test_the_run_summary_says_how_long_the_run_took():
    manifest = {**BASE, "pipeline": "ingestion", "run_id": "ingestion-2024-01-03", "datasets": {},
                "duration_seconds": 48.2}
    assert manifest_lines(manifest)[0] == "ingestion 2024-01-03 run ingestion-2024-01-03: SUCCEEDED in 48s"


def _write_manifest(lake, pipeline: str, day: str, run_id: str, status: str, finished: str) -> None:
    folder = lake / "ops" / "manifests" / pipeline / f"run_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{run_id}.json").write_text(json.dumps(
        {**BASE, "pipeline": pipeline, "run_date": day, "run_id": run_id, "status": status, "finished_at": finished,
         "datasets": {}, "jobs": {}}))


def test_status_lists_the_newest_runs_first_and_filters_by_pipeline_and_failure(tmp_path, capsys):
    _write_manifest(tmp_path, "ingestion", "2024-01-02", "ingestion-2024-01-02", "FAILED", "2024-01-03T00:01:00")
    _write_manifest(tmp_path, "ingestion", "2024-01-02", "ingestion-2024-01-02-attempt-2", "SUCCEEDED",
                    "2024-01-03T02:00:00")
    _write_manifest(tmp_path, "training", "2024-01-07", "training-2024-01-07", "FAILED", "2024-01-07T05:30:00")

    def status(*flags: str) -> list[str]:
        assert cli.main(["status", "--lake-root", str(tmp_path), *flags]) == 0
        return [line.split()[4] for line in capsys.readouterr().out.strip().splitlines()[2:]]  # the run ids

    assert status() == ["training-2024-01-07", "ingestion-2024-01-02-attempt-2", "ingestion-2024-01-02"]
    assert status("--limit", "1") == ["training-2024-01-07"]
    assert status("--pipeline", "ingestion") == ["ingestion-2024-01-02-attempt-2", "ingestion-2024-01-02"]
    assert status("--failed") == ["training-2024-01-07", "ingestion-2024-01-02"]
    assert status("--failed", "--pipeline", "ingestion") == ["ingestion-2024-01-02"]
    assert cli.main(["status", "--lake-root", str(tmp_path), "--pipeline", "batch_inference"]) == 0
    assert capsys.readouterr().out.startswith("no batch_inference runs under ")
