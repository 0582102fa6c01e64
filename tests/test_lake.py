import os
from pathlib import Path

from jobs.lake import LakeLayout


def test_a_relative_local_root_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    layout = LakeLayout.from_root("lake")
    assert layout.bronze == str(tmp_path / "lake" / "bronze")
    assert os.path.isabs(LakeLayout.from_args({"lake_root": "lake", "gold_root": "elsewhere/gold"}).gold)


def test_s3_roots_are_kept_as_given():
    layout = LakeLayout.from_args({"bronze_root": "s3://lh-bronze-1/", "silver_root": "s3://lh-silver-1"})
    assert layout.bronze_dataset("customers") == "s3://lh-bronze-1/customers"
    assert layout.silver_table("customers") == "s3://lh-silver-1/customers"
    assert Path(layout.gold).is_absolute()  # the local default for roots not given
