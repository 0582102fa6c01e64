"""SageMaker inference handlers for the fraud model (scikit-learn serving contract).

SageMaker's scikit-learn container imports this module (SAGEMAKER_PROGRAM) and calls
`model_fn(model_dir)` once, then per request `input_fn` → `predict_fn` → `output_fn`. Batch
transform sends the scoring input's JSON lines (`transaction_id` and the feature columns) in
mini-batches; each output line is `{"transaction_id", "fraud_score", "is_flagged", "model_version"}`,
one per input line and in the same order.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

try:  # in the repository (or wherever the package is installed)
    from jobs.ml import feature_spec, model_bundle
except ImportError:  # in SageMaker the source directory's files are top-level modules
    import feature_spec  # type: ignore[no-redef]
    import model_bundle  # type: ignore[no-redef]

JSON_LINES = ("application/jsonlines", "application/x-jsonlines", "application/jsonl")
JSON = "application/json"


class UnsupportedContentTypeError(ValueError):
    pass


def model_fn(model_dir: str) -> dict[str, Any]:
    return model_bundle.load_bundle(model_dir)


def input_fn(request_body: str | bytes, request_content_type: str) -> pd.DataFrame:
    text = request_body.decode("utf-8") if isinstance(request_body, bytes) else request_body
    content_type = (request_content_type or "").split(";")[0].strip().lower()
    if content_type in JSON_LINES:
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    elif content_type == JSON:
        parsed = json.loads(text)
        records = parsed if isinstance(parsed, list) else [parsed]
    else:
        raise UnsupportedContentTypeError(
            f"content type {request_content_type!r} is not supported; send {JSON_LINES[0]} or {JSON}")
    frame = pd.DataFrame.from_records(records)
    if len(frame) and feature_spec.ID_COLUMN not in frame:
        raise ValueError(f"every record needs {feature_spec.ID_COLUMN!r}")
    return frame


def predict_fn(input_data: pd.DataFrame, model: dict[str, Any]) -> pd.DataFrame:
    scores = model_bundle.fraud_scores(model, input_data)
    return pd.DataFrame({
        "transaction_id": input_data[feature_spec.ID_COLUMN].astype(str).to_numpy() if len(input_data) else [],
        "fraud_score": scores,
        "is_flagged": scores >= model["decision_threshold"],
        "model_version": model["version"],
    })


def output_fn(prediction: pd.DataFrame, accept: str) -> str:
    content_type = (accept or JSON_LINES[0]).split(";")[0].strip().lower()
    records = prediction.to_dict(orient="records")
    if content_type in JSON_LINES:
        return "".join(json.dumps(record) + "\n" for record in records)
    if content_type == JSON:
        return json.dumps(records)
    raise UnsupportedContentTypeError(f"accept type {accept!r} is not supported")
