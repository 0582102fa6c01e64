"""OpenLineage facets for the lake's datasets and runs.

Standard facets: schema, dataset version (the Iceberg snapshot id), data-quality assertions (from the
Great Expectations result the quality gate stored), column lineage (gold `customer_features`), parent
run (the state-machine execution), error message. Two facets of this project, `lakehouse_pii` (the PII
action applied per column) and `lakehouse_partitions` (the partitions read or written).
"""

from __future__ import annotations

import uuid
from typing import Any

import attr
from openlineage.client.generated import (
    column_lineage_dataset,
    data_quality_assertions_dataset,
    dataset_version_dataset,
    error_message_run,
    job_type_job,
    parent_run,
    schema_dataset,
)
from openlineage.client.generated.base import DatasetFacet, RunFacet

from jobs.lineage.datasets import DatasetRef

FACETS_SCHEMA_BASE = "https://github.com/lakehouse/lakehouse/blob/main/docs/lineage.md"
PARENT_NAMESPACE = uuid.UUID("6f1d2a4c-9c55-4c71-a2a5-5f0c3f0e8a10")  # fixed: parent run ids are stable


@attr.define
class PiiDatasetFacet(DatasetFacet):
    """The PII action applied to each column (tokenize, mask, generalize, drop, redact), and what the
    discovery of undeclared columns found and did."""

    columns: dict[str, str] = attr.field(factory=dict)
    discovered: list[dict[str, Any]] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return FACETS_SCHEMA_BASE + "#lakehouse_pii"


@attr.define
class PartitionsDatasetFacet(DatasetFacet):
    """The partitions (`column=value`) of the dataset a run read or wrote."""

    partitions: list[str] = attr.field(factory=list)

    @staticmethod
    def _get_schema() -> str:
        return FACETS_SCHEMA_BASE + "#lakehouse_partitions"


@attr.define
class ModelDatasetFacet(DatasetFacet):
    """A model version's deployment decision and held-out metrics."""

    decision: str | None = None
    metrics: dict[str, Any] = attr.field(factory=dict)
    windows: dict[str, Any] | None = None

    @staticmethod
    def _get_schema() -> str:
        return FACETS_SCHEMA_BASE + "#lakehouse_model"


@attr.define
class PipelineRunFacet(RunFacet):
    """The pipeline run (state-machine execution) this job run belongs to, as the lake names it."""

    pipeline: str
    runId: str  # OpenLineage's camelCase
    runDate: str

    @staticmethod
    def _get_schema() -> str:
        return FACETS_SCHEMA_BASE + "#lakehouse_run"


PII_FACET, PARTITIONS_FACET, MODEL_FACET, RUN_FACET = ("lakehouse_pii", "lakehouse_partitions", "lakehouse_model",
                                                       "lakehouse_run")


def parent_run_id(pipeline: str, run_id: str) -> str:
    """One id per state-machine execution (its run id), the same in every job run of it."""
    return str(uuid.uuid5(PARENT_NAMESPACE, f"{pipeline}/{run_id}"))


def parent_facet(namespace: str, pipeline: str, run_id: str) -> parent_run.ParentRunFacet:
    return parent_run.ParentRunFacet(run=parent_run.Run(runId=parent_run_id(pipeline, run_id)),
                                     job=parent_run.Job(namespace=namespace, name=f"lakehouse-{pipeline}"))


def job_type_facet() -> job_type_job.JobTypeJobFacet:
    return job_type_job.JobTypeJobFacet(processingType="BATCH", integration="GLUE", jobType="JOB")


def error_facet(error: BaseException, trace: str) -> error_message_run.ErrorMessageRunFacet:
    return error_message_run.ErrorMessageRunFacet(message=f"{type(error).__name__}: {error}",
                                                  programmingLanguage="PYTHON", stackTrace=trace)


def schema_facet(fields: list[tuple[str, str]]) -> schema_dataset.SchemaDatasetFacet:
    return schema_dataset.SchemaDatasetFacet(
        fields=[schema_dataset.SchemaDatasetFacetFields(name=name, type=type_) for name, type_ in fields])


def assertions_from_result(document: dict[str, Any]) -> list[data_quality_assertions_dataset.Assertion]:
    """One assertion per expectation of a stored Great Expectations validation result."""
    assertions = []
    for result in document.get("results") or []:
        config = result.get("expectation_config") or {}
        kwargs = config.get("kwargs") or {}
        column = kwargs.get("column")
        assertions.append(data_quality_assertions_dataset.Assertion(
            assertion=str(config.get("type") or config.get("expectation_type") or "unknown"),
            success=bool(result.get("success")),
            column=None if column is None else str(column),
            severity=(config.get("meta") or {}).get("severity") or config.get("severity")))
    return assertions


def quality_facet(document: dict[str, Any]) -> data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet:
    return data_quality_assertions_dataset.DataQualityAssertionsDatasetFacet(
        assertions=assertions_from_result(document))


def pii_facet(pii: dict[str, Any]) -> PiiDatasetFacet:
    discovered = [{k: v for k, v in alert.items() if k in ("column", "action", "entity_type", "entity", "policy")}
                  for alert in pii.get("discovery") or []]
    return PiiDatasetFacet(columns=dict(sorted((pii.get("policies") or {}).items())), discovered=discovered)


# Where each gold customer_features column comes from (jobs/gold/features.py). Columns the table has
# but this map does not know are left out rather than guessed; one-hot and index columns follow their source.
CUSTOMER_FEATURE_SOURCES: dict[str, tuple[tuple[str, str], ...]] = {
    "customer_id": (("silver.customers", "customer_id"),),
    "txn_count_7d": (("silver.transactions", "transaction_id"), ("silver.transactions", "event_time")),
    "txn_amount_7d": (("silver.transactions", "amount"), ("silver.transactions", "event_time")),
    "txn_count_30d": (("silver.transactions", "transaction_id"), ("silver.transactions", "event_time")),
    "txn_amount_30d": (("silver.transactions", "amount"), ("silver.transactions", "event_time")),
    "avg_amount_30d": (("silver.transactions", "amount"), ("silver.transactions", "event_time")),
    "distinct_merchants_30d": (("silver.transactions", "merchant_id"), ("silver.transactions", "event_time")),
    "days_since_last_txn": (("silver.transactions", "event_time"),),
    "tenure_days": (("silver.customers", "created_at"),),
    "segment": (("silver.customers", "segment"),),
    "country": (("silver.customers", "country"),),
}
COLUMN_SOURCES: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {"gold.customer_features": CUSTOMER_FEATURE_SOURCES}


def column_sources(table: str, column: str) -> tuple[tuple[str, str], ...]:
    sources = COLUMN_SOURCES.get(table, {})
    if column in sources:
        return sources[column]
    for source in ("segment", "country"):  # one-hot and index encodings of a categorical
        if column.startswith(source + "_") and source in sources:
            return sources[source]
    return ()


def column_lineage_facet(ref: DatasetRef, columns: list[str], inputs: list[DatasetRef]
                         ) -> column_lineage_dataset.ColumnLineageDatasetFacet | None:
    """Column lineage for a table with a declared map, over the columns it really has."""
    if ref.name not in COLUMN_SOURCES:
        return None
    namespace_of = {i.name: i.namespace for i in inputs}
    fields = {}
    for column in columns:
        sources = [(t, c) for t, c in column_sources(ref.name, column) if t in namespace_of]
        if sources:
            fields[column] = column_lineage_dataset.Fields(inputFields=[
                column_lineage_dataset.InputField(namespace=namespace_of[t], name=t, field=c) for t, c in sources])
    return column_lineage_dataset.ColumnLineageDatasetFacet(fields=fields) if fields else None


def version_facet(version: str) -> dataset_version_dataset.DatasetVersionDatasetFacet:
    return dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=version)
