"""Where a job runs, decided once per job run from its arguments.

A job runs on a laptop or in CI (local folders, the embedded Iceberg catalog), inside AWS Glue (S3 and
the Glue Data Catalog), or in between (the Glue Docker image, or local Spark against an emulator). This
module is the one place that tells these apart: which storage serves a path, which catalog holds the
tables, whether Glue's runtime is present, where AWS calls go, and the run's id and clock. The modules
below it take what it decided (a `Storage`, a `CatalogChoice`, a flag) and never ask again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jobs.lake import LakeLayout
from jobs.local_files import LocalFiles
from jobs.s3_objects import S3Objects
from jobs.storage import Storage

S3_SCHEMES = ("s3://", "s3a://")
CATALOG_KINDS = ("local", "glue")
METRICS_TARGETS = ("auto", "local", "cloudwatch", "none")
# The key under which the Glue entry point hands a job's run the environment it built (jobs read it
# through `JobContext.from_args`); it cannot collide with a job argument, which never holds an object.
ENVIRONMENT_ARG = "_environment"

Clock = Callable[[], datetime]


def in_s3(uri: str) -> bool:
    """The one test of a path's storage: S3 for `s3://` and `s3a://` URIs, a local filesystem otherwise."""
    return uri.startswith(S3_SCHEMES)


def storage_for(uri: str) -> Storage:
    """The storage implementation that serves `uri` (a fresh one: it reads the AWS settings of now)."""
    return S3Objects() if in_s3(uri) else LocalFiles()


def absolute_root(root: str) -> str:
    """A lake root as every process reads it: local paths made absolute, URIs as given."""
    return storage_for(root).absolute(root)


def glue_runtime_present() -> bool:
    """True inside AWS Glue or its Docker image (the `awsglue` package is importable)."""
    try:
        import awsglue  # noqa: F401
    except ImportError:
        return False
    return True


def default_metrics_target(requested: str, ops_root: str) -> str:
    """`--metrics auto` means CloudWatch when the ops root is in S3 (a deployed run), else local files."""
    if requested not in METRICS_TARGETS:
        raise ValueError(f"--metrics must be {', '.join(METRICS_TARGETS[:-1])} or none, got {requested!r}")
    if requested != "auto":
        return requested
    return "cloudwatch" if in_s3(ops_root) else "local"


@dataclass(frozen=True)
class CatalogChoice:
    """Which Iceberg catalog holds the lake's tables: `local` (JDBC on SQLite in the lake) or `glue`."""

    kind: str
    glue_database: str | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> CatalogChoice:
        """`--catalog local|glue`. The deployed jobs pass `--catalog glue` and `--glue_database`; without
        `--catalog`, a job given `--glue_database` uses the Glue Data Catalog, any other the embedded one
        (so the Glue Docker image runs on the embedded catalog like a laptop)."""
        database = args.get("glue_database") or None
        kind = str(args.get("catalog") or ("glue" if database else "local")).lower()
        if kind not in CATALOG_KINDS:
            raise ValueError(f"--catalog must be 'local' or 'glue', got {kind!r}")
        if kind == "glue" and not database:
            raise ValueError("--catalog glue needs --glue_database (the Glue database that holds the tables)")
        return cls(kind, database)


@dataclass(frozen=True)
class AwsEndpoints:
    """Where AWS calls go: AWS itself (all None) or an emulator (`AWS_ENDPOINT_URL`, per service
    `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL_GLUE`), and the region if one is set."""

    default: str | None = None
    s3: str | None = None
    glue: str | None = None
    region: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> AwsEndpoints:
        environ = os.environ if environ is None else environ
        default = environ.get("AWS_ENDPOINT_URL") or None
        return cls(default, environ.get("AWS_ENDPOINT_URL_S3") or None, environ.get("AWS_ENDPOINT_URL_GLUE") or None,
                   environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None)


@dataclass(frozen=True)
class JobEnvironment:
    """Everything about where one job run runs. Built once (`from_args`) and handed down."""

    layout: LakeLayout
    catalog: CatalogChoice
    in_glue: bool
    run_id: str
    endpoints: AwsEndpoints
    clock: Clock = field(default=lambda: datetime.now(UTC), compare=False)
    local: LocalFiles = field(default_factory=LocalFiles, compare=False, repr=False)
    s3: S3Objects = field(default_factory=S3Objects, compare=False, repr=False)

    @classmethod
    def from_args(cls, args: Mapping[str, Any], *, in_glue: bool | None = None, clock: Clock | None = None,
                  environ: Mapping[str, str] | None = None) -> JobEnvironment:
        """The environment of a run with these job arguments. `in_glue` defaults to probing for Glue's
        runtime, `clock` to UTC now, `environ` to the process's environment variables."""
        clock = clock or (lambda: datetime.now(UTC))
        endpoints = AwsEndpoints.from_environ(environ)
        run_id = str(args.get("run_id") or f"manual-{clock():%Y%m%dT%H%M%S}")
        return cls(LakeLayout.from_args(dict(args)), CatalogChoice.from_args(args),
                   glue_runtime_present() if in_glue is None else in_glue, run_id, endpoints, clock,
                   LocalFiles(), S3Objects(endpoints.s3 or endpoints.default))

    def storage_for(self, path: str) -> Storage:
        """The run's storage for `path` (the same object, and so the same S3 client, on every call)."""
        return self.s3 if in_s3(path) else self.local

    def now(self) -> datetime:
        return self.clock()

    def metrics_target(self, requested: str = "auto") -> str:
        return default_metrics_target(requested, self.layout.ops)


def environment_of(args: Mapping[str, Any]) -> JobEnvironment:
    """The environment the entry point built for this run, or (a job called directly, as tests and the
    local engine do) one built now from the arguments."""
    given = args.get(ENVIRONMENT_ARG)
    return given if isinstance(given, JobEnvironment) else JobEnvironment.from_args(args)
