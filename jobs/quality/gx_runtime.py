"""The Great Expectations side of the gate: one ephemeral context per process, shared.

GE 1.x flow: ephemeral context → Spark data source → DataFrame asset → whole-DataFrame batch
definition → validate with the DataFrame as a batch parameter. Nothing is written by GE here: the
gate persists results itself (see `store`) and renders Data Docs from them (see `data_docs`).
The data source does not persist the batch (`persist=False`): the gate manages caching once.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import great_expectations as gx
import pandas as pd
from great_expectations.core import ExpectationSuiteValidationResult
from great_expectations.core.batch_definition import BatchDefinition
from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.data_context import AbstractDataContext
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.validator.v1_validator import Validator
from great_expectations.validator.validator import Validator as MetricValidator
from pyspark.sql import DataFrame

DATASOURCE = "lakehouse"
# A small batch's rows collected to the driver (jobs/quality/local_rows.py) validate on pandas.
PANDAS_DATASOURCE = "lakehouse_local_rows"
BATCH_DEFINITION = "whole_partition"
# Verdicts only: GE still computes every expectation's metrics (bundled aggregates), but skips the
# per-expectation queries for failing values, which cost a Spark plan and job each even when empty.
VERDICTS_ONLY = {"result_format": "BOOLEAN_ONLY"}
# Query expectations (`unexpected_rows_expectation`) report their rows only in COMPLETE (at most 200).
QUERY_ROWS = {"result_format": "COMPLETE"}


def with_counts(sample_size: int) -> dict[str, Any]:
    """Counts, observed values and up to `sample_size` failing values per expectation."""
    return {"result_format": "BASIC", "partial_unexpected_count": sample_size}

_lock = threading.RLock()
_context: AbstractDataContext | None = None


def quiet_context() -> AbstractDataContext:
    """A fresh in-memory context: no progress bars (they would flood Glue's logs) and no temporary
    docs site (GE's default ephemeral context makes a temp folder per context)."""
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False))
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def shared_context() -> AbstractDataContext:
    """The process-wide validation context (creating one costs GE's metric registry warm-up)."""
    global _context
    with _lock:
        if _context is None:
            context = quiet_context()
            context.data_sources.add_spark(name=DATASOURCE, persist=False)
            context.data_sources.add_pandas(name=PANDAS_DATASOURCE)
            _context = context
        return _context


def batch_definition(asset_name: str, on_pandas: bool = False) -> BatchDefinition:
    with _lock:
        datasource = shared_context().data_sources.get(PANDAS_DATASOURCE if on_pandas else DATASOURCE)
        try:
            asset = datasource.get_asset(asset_name)
        except LookupError:
            asset = datasource.add_dataframe_asset(name=asset_name)
        try:
            return asset.get_batch_definition(BATCH_DEFINITION)
        except KeyError:
            return asset.add_batch_definition_whole_dataframe(BATCH_DEFINITION)


def validate(df: DataFrame | pd.DataFrame, suite: ExpectationSuite, asset_name: str, parameters: dict[str, Any],
             result_format: dict[str, Any]) -> ExpectationSuiteValidationResult:
    """Validate a Spark DataFrame, or a pandas one (a small batch's collected rows) on GE's pandas engine."""
    on_pandas = isinstance(df, pd.DataFrame)
    validator = Validator(batch_definition=batch_definition(asset_name, on_pandas), batch_parameters={"dataframe": df},
                          result_format=result_format)
    return validator.validate_expectation_suite(suite, parameters)


def metric_validator(df: DataFrame, asset_name: str) -> MetricValidator:
    """A validator over the same DataFrame for resolving individual metrics (e.g. row conditions)."""
    request = batch_definition(asset_name).build_batch_request(batch_parameters={"dataframe": df})
    return shared_context().get_validator(batch_request=request)
