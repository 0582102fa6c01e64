"""The job-runner seam: every job run, on Glue and locally, goes through `run_with_lineage`.

START before `run()`, then COMPLETE with the datasets its report names, or FAIL with the error. Lineage
is a record, not part of the job: a failure to build or send an event is printed and never changes the
job's outcome.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.uuid import generate_new_uuid

from jobs import storage
from jobs.lake import LakeLayout
from jobs.lineage import facets
from jobs.lineage.datasets import DatasetRef, RunDatasets, run_datasets
from jobs.lineage.transport import LineageSettings, build_client, events_folder

PRODUCER = "https://github.com/lakehouse/lakehouse/tree/main/jobs/lineage"
JOB_NAMESPACE = "lakehouse"

SchemaReader = Callable[[DatasetRef], list[tuple[str, str]] | None]


def lineage_job_name(job: str, args: dict[str, Any]) -> str:
    """`bronze_to_silver.transactions` for a per-dataset job, else the job's name."""
    return f"{job}.{args['dataset']}" if args.get("dataset") else job


class JobRunLineage:
    """The events of one job run (one run id shared by START and its COMPLETE or FAIL)."""

    def __init__(self, job: str, args: dict[str, Any], client: Any):
        self.job = job
        self.args = args
        self.client = client
        self.layout = LakeLayout.from_args(args)
        self.pipeline = str(args.get("pipeline") or "ingestion")
        self.run_id = str(generate_new_uuid())
        pipeline_run = str(args.get("run_id") or "manual")
        self.parent = facets.parent_facet(JOB_NAMESPACE, self.pipeline, pipeline_run)
        self.pipeline_run = facets.PipelineRunFacet(pipeline=self.pipeline, runId=pipeline_run,
                                                    runDate=str(args.get("run_date") or ""))

    def _event(self, state: RunState, run_facets: dict[str, Any] | None = None,
               datasets: RunDatasets | None = None, schemas: SchemaReader | None = None) -> RunEvent:
        datasets = datasets or RunDatasets()
        return RunEvent(
            eventType=state,
            eventTime=datetime.now(UTC).isoformat(),
            run=Run(runId=self.run_id, facets={"parent": self.parent, facets.RUN_FACET: self.pipeline_run,
                                                       **(run_facets or {})}),
            job=Job(namespace=JOB_NAMESPACE, name=lineage_job_name(self.job, self.args),
                    facets={"jobType": facets.job_type_facet()}),
            inputs=[InputDataset(namespace=r.namespace, name=r.name, facets=dataset_facets(r, schemas))
                    for r in datasets.inputs],
            outputs=[OutputDataset(namespace=r.namespace, name=r.name,
                                   facets=dataset_facets(r, schemas, list(datasets.inputs)))
                     for r in datasets.outputs],
            producer=PRODUCER,
        )

    def _send(self, build: Callable[[], RunEvent]) -> None:
        try:
            self.client.emit(build())
        except Exception as exc:  # lineage must never fail the job it describes
            print(f"lineage: no event sent for job {self.job}: {type(exc).__name__}: {exc}", file=sys.stderr)

    def start(self) -> None:
        self._send(lambda: self._event(RunState.START))

    def complete(self, report: Any, schemas: SchemaReader | None) -> None:
        self._send(lambda: self._event(RunState.COMPLETE, datasets=run_datasets(self.job, self.layout, report),
                                       schemas=schemas))

    def fail(self, error: BaseException, trace: str) -> None:
        self._send(lambda: self._event(RunState.FAIL, {"errorMessage": facets.error_facet(error, trace)}))


def dataset_facets(ref: DatasetRef, schemas: SchemaReader | None,
                   inputs: list[DatasetRef] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if ref.version is not None:
        found["version"] = facets.version_facet(ref.version)
    if ref.partitions:
        found[facets.PARTITIONS_FACET] = facets.PartitionsDatasetFacet(partitions=list(ref.partitions))
    columns = schemas(ref) if schemas is not None and ref.kind == "table" else None
    if columns:
        found["schema"] = facets.schema_facet(columns)
        if inputs is not None:
            lineage = facets.column_lineage_facet(ref, [name for name, _ in columns], inputs)
            if lineage is not None:
                found["columnLineage"] = lineage
    if ref.quality and ref.quality.get("result_path") and storage.exists(ref.quality["result_path"]):
        found["dataQualityAssertions"] = facets.quality_facet(storage.read_json(ref.quality["result_path"]))
    if ref.pii is not None:
        found[facets.PII_FACET] = facets.pii_facet(ref.pii)
    if ref.kind == "model":
        found[facets.MODEL_FACET] = facets.ModelDatasetFacet(**ref.details)
    return found


def spark_schema_reader(spark: Any, layout: LakeLayout, args: dict[str, Any]) -> SchemaReader:
    """Columns of a table as its catalog has them now (metadata only, no data read)."""
    from jobs.tables import lake_catalog

    catalog = lake_catalog(spark, layout, args)

    def read(ref: DatasetRef) -> list[tuple[str, str]] | None:
        layer, name = ref.name.split(".", 1)
        try:
            schema = spark.table(catalog.table(layer, name).identifier).schema
        except Exception:  # a table that is not in the catalog (a plain folder) has no schema facet
            return None
        return [(f.name, f.dataType.simpleString()) for f in schema.fields]

    return read


def run_with_lineage(job: str, run: Callable[[Any, dict[str, Any]], Any], spark: Any,
                     args: dict[str, Any]) -> Any:
    """Run `run(spark, args)` between a START and a COMPLETE (or FAIL) event of job `job`."""
    lineage = _lineage_for(job, args)
    if lineage is None:
        return run(spark, args)
    lineage.start()
    try:
        report = run(spark, args)
    except SystemExit as exit_:
        if exit_.code not in (0, None):
            lineage.fail(exit_, traceback.format_exc())
        else:
            lineage.complete(None, None)
        raise
    except BaseException as exc:
        lineage.fail(exc, traceback.format_exc())
        raise
    lineage.complete(report, _schema_reader(spark, lineage))
    return report


def _schema_reader(spark: Any, lineage: JobRunLineage) -> SchemaReader | None:
    if spark is None:
        return None
    try:
        return spark_schema_reader(spark, lineage.layout, lineage.args)
    except Exception as exc:
        print(f"lineage: no schema facets for job {lineage.job}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def _lineage_for(job: str, args: dict[str, Any]) -> JobRunLineage | None:
    """The run's lineage recorder; None when lineage is off. Bad lineage settings fail the job early,
    with a message naming the setting, before anything is read or written."""
    settings = LineageSettings.from_args(args)
    if not settings.enabled:
        return None
    layout = LakeLayout.from_args(args)
    folder = events_folder(layout, str(args.get("pipeline") or "ingestion"), str(args.get("run_date") or "none"),
                           str(args.get("run_id") or "manual"))
    return JobRunLineage(job, args, build_client(settings, folder))
