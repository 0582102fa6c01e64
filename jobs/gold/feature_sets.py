"""Where the customer feature set's fitted embedding transform is kept (the I/O edge of
`jobs.gold.embeddings`): `<ops>/feature_sets/customer_features/<version>.json`, and `current.json`
naming the version the gold job applies. A version file is never rewritten: the version is its
content's hash, so a model or an online item that names a version can always find its transform."""

from __future__ import annotations

from datetime import date
from typing import Any

from pyspark.sql import DataFrame

from jobs import storage
from jobs.gold.embeddings import FEATURE_SET_NAME, EmbeddingFitError, EmbeddingTransform, fit_embedding
from jobs.lake import LakeLayout


def feature_set_folder(layout: LakeLayout) -> str:
    return f"{layout.ops.rstrip('/')}/feature_sets/{FEATURE_SET_NAME}"


def version_path(layout: LakeLayout, version: str) -> str:
    return f"{feature_set_folder(layout)}/{version}.json"


def current_transform(layout: LakeLayout) -> EmbeddingTransform | None:
    pointer = f"{feature_set_folder(layout)}/current.json"
    if not storage.exists(pointer):
        return None
    version = str(storage.read_json(pointer)["feature_set_version"])
    path = version_path(layout, version)
    return EmbeddingTransform.from_json(storage.read_json(path), path)


def save_current(layout: LakeLayout, transform: EmbeddingTransform) -> str:
    path = version_path(layout, transform.version)
    if not storage.exists(path):
        storage.write_json(path, transform.as_json())
    storage.write_json(f"{feature_set_folder(layout)}/current.json",
                       {"feature_set_version": transform.version, "path": path})
    return path


def transform_for_run(layout: LakeLayout, profiles: DataFrame, as_of: date,
                      refit: bool) -> tuple[EmbeddingTransform | None, dict[str, Any]]:
    """The current transform; fitted on `profiles` (and made current) when there is none yet or a refit
    is asked for. Returns it (None when too few customers to fit) and what happened, for the report."""
    transform = None if refit else current_transform(layout)
    if transform is not None:
        return transform, {"feature_set_version": transform.version, "fitted": False,
                           "fitted_on": transform.fitted_on}
    try:
        transform = fit_embedding(profiles, as_of)
    except EmbeddingFitError as too_few:
        return None, {"feature_set_version": None, "fitted": False, "not_fitted_because": str(too_few)}
    path = save_current(layout, transform)
    return transform, {"feature_set_version": transform.version, "fitted": True, "fitted_on": transform.fitted_on,
                       "path": path, "explained_variance": [round(v, 4) for v in transform.explained_variance]}
