"""Everything the stack points at in the artifacts bucket, built locally and offline.

- the library wheel, built here (no `pip wheel`, no build isolation, no network): a pure-Python zip of
  the packages `pyproject.toml` selects, with fixed timestamps and order so the same source always
  gives the same bytes and therefore the same content-addressed key;
- one tiny launcher script per Glue job (`from jobs.x import main; main()`);
- bundles of the contracts, the expectation suites and the state-machine definitions;
- the SageMaker script-mode source directory (`jobs/ml/*.py` and its `requirements.txt`, flat) as a
  reproducible `sourcedir.tar.gz`.

Keys are `<kind>/<sha256 prefix>/<file>`: an unchanged artifact keeps its key and is never re-uploaded.
"""

from __future__ import annotations

import base64
import fnmatch
import gzip
import hashlib
import io
import re
import tarfile
import tomllib
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.registry import GLUE_JOBS, PIPELINES, REPO_ROOT, GlueJobSpec, PipelineSpec

HASH_CHARS = 16
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

# Requirements the AWS Glue 5.0 runtime already provides (installing ours would shadow Spark's own).
GLUE_PROVIDED = frozenset({"pyspark", "pandas", "numpy", "pyarrow", "boto3", "botocore"})
# Requirements only the local emulation, synthetic data and validators need.
LOCAL_ONLY = frozenset({"moto", "faker", "statelint"})


@dataclass(frozen=True)
class Artifact:
    key: str
    body: bytes
    content_type: str = "application/octet-stream"


@dataclass
class ArtifactSet:
    """The artifacts of one build, and where the template should point."""

    wheel: Artifact
    scripts: dict[str, Artifact]  # glue job logical name -> launcher
    contracts: list[Artifact]
    expectations: list[Artifact]
    definitions: dict[str, Artifact]  # pipeline -> definition
    runtime_requirements: tuple[str, ...]
    ml_source: Artifact | None = None  # SageMaker's sourcedir.tar.gz
    warnings: list[str] = field(default_factory=list)

    def all(self) -> list[Artifact]:
        extra = [self.ml_source] if self.ml_source is not None else []
        return [self.wheel, *self.scripts.values(), *self.contracts, *self.expectations,
                *self.definitions.values(), *extra]

    @property
    def contracts_prefix(self) -> str:
        return _bundle_prefix(self.contracts, "contracts")

    @property
    def expectations_prefix(self) -> str:
        return _bundle_prefix(self.expectations, "expectations")


def _bundle_prefix(artifacts: list[Artifact], kind: str) -> str:
    if not artifacts:
        return f"{kind}/empty/"
    return "/".join(artifacts[0].key.split("/")[:2]) + "/"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_key(kind: str, data: bytes, filename: str) -> str:
    return f"{kind}/{sha256(data)[:HASH_CHARS]}/{filename}"


def bundle(kind: str, files: Mapping[str, bytes], content_type: str) -> list[Artifact]:
    """Files that are read together share one key prefix, hashed over all their names and contents."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + sha256(files[name]).encode() + b"\0")
    prefix = f"{kind}/{digest.hexdigest()[:HASH_CHARS]}"
    return [Artifact(f"{prefix}/{name}", files[name], content_type) for name in sorted(files)]


# -- the wheel --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProjectMetadata:
    name: str
    version: str
    summary: str
    requires_python: str
    dependencies: tuple[str, ...]
    package_patterns: tuple[str, ...]
    scripts: dict[str, str]
    license: str | None

    @classmethod
    def read(cls, repo_root: Path) -> ProjectMetadata:
        with (repo_root / "pyproject.toml").open("rb") as handle:
            pyproject = tomllib.load(handle)
        project = pyproject["project"]
        find = pyproject.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {})
        return cls(
            name=project["name"], version=project["version"], summary=project.get("description", ""),
            requires_python=project.get("requires-python", ""),
            dependencies=tuple(project.get("dependencies", [])),
            package_patterns=tuple(find.get("include", ["*"])),
            scripts=dict(project.get("scripts", {})),
            license=project.get("license") if isinstance(project.get("license"), str) else None,
        )


def requirement_name(requirement: str) -> str:
    """`pyspark[sql]==3.5.4` → `pyspark` (normalised as PEP 503 does)."""
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot parse requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def glue_requirements(dependencies: Iterable[str]) -> tuple[str, ...]:
    """The project's pinned requirements minus what Glue provides and what only local runs need."""
    return tuple(dep for dep in dependencies
                 if requirement_name(dep) not in GLUE_PROVIDED | LOCAL_ONLY)


def find_packages(repo_root: Path, patterns: Iterable[str]) -> list[str]:
    """Dotted names of regular packages (folders with `__init__.py`) matching setuptools' patterns."""
    found: list[str] = []
    for init in sorted(repo_root.rglob("__init__.py")):
        relative = init.parent.relative_to(repo_root)
        if not relative.parts or any(part.startswith(".") or part in {"tests", "build"}
                                     for part in relative.parts):
            continue
        dotted = ".".join(relative.parts)
        parents_are_packages = all((repo_root.joinpath(*relative.parts[:i]) / "__init__.py").exists()
                                   for i in range(1, len(relative.parts)))
        if parents_are_packages and any(fnmatch.fnmatchcase(dotted, pattern) for pattern in patterns):
            found.append(dotted)
    return found


def _package_files(repo_root: Path, packages: Iterable[str]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for package in packages:
        folder = repo_root.joinpath(*package.split("."))
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix not in {".pyc", ".pyo"}:
                files[path.relative_to(repo_root).as_posix()] = path.read_bytes()
    return files


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel_filename(meta: ProjectMetadata) -> str:
    return f"{meta.name.replace('-', '_')}-{meta.version}-py3-none-any.whl"


def build_wheel(repo_root: Path = REPO_ROOT, requirements: Iterable[str] | None = None) -> tuple[str, bytes]:
    """A reproducible pure-Python wheel of the repository: (file name, bytes).

    `requirements` become the wheel's `Requires-Dist`; by default the Glue subset, so that
    `pip install` on Glue adds what is missing and leaves Glue's own Spark, pandas and boto3 alone.
    """
    meta = ProjectMetadata.read(repo_root)
    dist_info = f"{meta.name.replace('-', '_')}-{meta.version}.dist-info"
    files = _package_files(repo_root, find_packages(repo_root, meta.package_patterns))
    metadata_lines = ["Metadata-Version: 2.1", f"Name: {meta.name}", f"Version: {meta.version}",
                      f"Summary: {meta.summary}"]
    if meta.license:
        metadata_lines.append(f"License: {meta.license}")
    if meta.requires_python:
        metadata_lines.append(f"Requires-Python: {meta.requires_python}")
    for requirement in (glue_requirements(meta.dependencies) if requirements is None else requirements):
        metadata_lines.append(f"Requires-Dist: {requirement}")
    files[f"{dist_info}/METADATA"] = ("\n".join(metadata_lines) + "\n").encode()
    files[f"{dist_info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: lakehouse-infra\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    if meta.scripts:
        entry_points = "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(meta.scripts.items()))
        files[f"{dist_info}/entry_points.txt"] = entry_points.encode()
    top_level = sorted({name.split("/")[0] for name in files if not name.startswith(dist_info)})
    files[f"{dist_info}/top_level.txt"] = ("\n".join(top_level) + "\n").encode()
    record = [_record_line(name, data) for name, data in sorted(files.items())]
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files, key=lambda n: (n.startswith(dist_info), n)):  # dist-info last
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return wheel_filename(meta), buffer.getvalue()


# -- scripts, bundles, the whole set ---------------------------------------------------------------
def launcher_script(spec: GlueJobSpec) -> bytes:
    return (f'"""AWS Glue entry point for the `{spec.name}` job (generated by infra.packaging)."""\n'
            f"from {spec.module} import main\n\nmain()\n").encode()


def model_requirements(repo_root: Path) -> tuple[str, ...]:
    """`name==version` lines of requirements-model.txt (the spaCy model; Glue cannot check hashes)."""
    path = repo_root / "requirements-model.txt"
    if not path.exists():
        return ()
    return tuple(match.group(1) for line in path.read_text().splitlines()
                 if (match := re.match(r"^([A-Za-z0-9._-]+==[A-Za-z0-9._-]+)", line.strip())))


def build_ml_source(repo_root: Path = REPO_ROOT) -> Artifact:
    """`jobs/ml/*.py` + `requirements.txt`, flat at the archive's root as script mode expects.

    Fixed order, owners, modes and times (and no gzip timestamp): the same source gives the same bytes,
    so its content-addressed key only changes when the code does.
    """
    source = repo_root / "jobs" / "ml"
    files = _files_under(source, "*.py") | _files_under(source, "requirements.txt")
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(files[name]), 0o644, 0
            archive.addfile(info, io.BytesIO(files[name]))
    body = gzip.compress(raw.getvalue(), mtime=0)
    return Artifact(content_key("ml", body, "sourcedir.tar.gz"), body, "application/gzip")


def _files_under(root: Path, pattern: str) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.glob(pattern)) if path.is_file()}


def collect_artifacts(repo_root: Path = REPO_ROOT, glue_jobs: Mapping[str, GlueJobSpec] = GLUE_JOBS,
                      pipelines: Mapping[str, PipelineSpec] = PIPELINES) -> ArtifactSet:
    wheel_name, wheel_bytes = build_wheel(repo_root)
    warnings: list[str] = []
    scripts: dict[str, Artifact] = {}
    for name, spec in sorted(glue_jobs.items()):
        module_file = repo_root.joinpath(*spec.module.split(".")).with_suffix(".py")
        if not module_file.exists():
            warnings.append(f"Glue job {name!r}: {module_file.relative_to(repo_root)} does not exist yet; "
                            "the job is deployed but will fail when it starts")
        if spec.job_type == "pythonshell":
            warnings.append(f"Glue job {name!r} is a Python shell job: Glue runs those on Python 3.9, but the "
                            "library requires Python 3.11, so it cannot be installed there; make it a "
                            "'glueetl' job in pipelines/registry.py")
        body = launcher_script(spec)
        scripts[name] = Artifact(content_key("scripts", body, f"{name}.py"), body, "text/x-python")
    definitions = {}
    for name, pipeline in sorted(pipelines.items()):
        body = pipeline.definition_path.read_bytes()
        definitions[name] = Artifact(content_key("state_machines", body, pipeline.definition_file), body,
                                     "application/json")
    return ArtifactSet(
        wheel=Artifact(content_key("wheels", wheel_bytes, wheel_name), wheel_bytes, "application/zip"),
        scripts=scripts,
        contracts=bundle("contracts", _files_under(repo_root / "contracts", "*.yaml"), "application/yaml"),
        expectations=bundle("expectations", _files_under(repo_root / "expectations", "**/*.json"),
                            "application/json"),
        definitions=definitions,
        runtime_requirements=model_requirements(repo_root),
        ml_source=build_ml_source(repo_root) if (repo_root / "jobs" / "ml").is_dir() else None,
        warnings=warnings,
    )
