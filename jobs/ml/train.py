"""SageMaker script-mode training script for the fraud model (scikit-learn).

Runs as `python train.py --name value ...` with SageMaker's environment: the `train` channel's
files in SM_CHANNEL_TRAIN (gold `training_set`, split=train, Parquet), the model to be written to
SM_MODEL_DIR (packed by SageMaker as model.tar.gz), other outputs to SM_OUTPUT_DATA_DIR. The
held-out window is not given to training: the evaluation job scores it afterwards.

Prints `train:<metric>=<value>` lines for the training job's MetricDefinitions. On failure, writes
the reason to /opt/ml/output/failure (SM_OUTPUT_DIR), which SageMaker reports as FailureReason.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

try:  # in the repository (or wherever the package is installed)
    from jobs.ml import feature_spec, model_bundle
except ImportError:  # in SageMaker the source directory's files are top-level modules
    import feature_spec  # type: ignore[no-redef]
    import model_bundle  # type: ignore[no-redef]


class TrainingDataError(ValueError):
    """The train channel cannot train a model (no files, no rows, a single class, missing columns)."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model_version", default=os.environ.get("TRAINING_JOB_NAME", "unversioned"))
    parser.add_argument("--learning_rate", type=float, default=0.05)
    parser.add_argument("--max_iter", type=int, default=200)
    parser.add_argument("--max_leaf_nodes", type=int, default=7)
    parser.add_argument("--min_samples_leaf", type=int, default=100)
    parser.add_argument("--l2_regularization", type=float, default=1.0)
    parser.add_argument("--decision_threshold", type=float, default=0.2)
    parser.add_argument("--random_state", type=int, default=7)
    parser.add_argument("--model-dir", dest="model_dir", default=os.environ.get("SM_MODEL_DIR", "model"))
    parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN", "train"))
    parser.add_argument("--output-data-dir", dest="output_data_dir",
                        default=os.environ.get("SM_OUTPUT_DATA_DIR", "output"))
    args, _unknown = parser.parse_known_args(argv)  # SageMaker may pass more than we use
    return args


def read_channel(channel_dir: str) -> pd.DataFrame:
    """Every Parquet file under the channel (SageMaker copies the S3 prefix, folders included)."""
    files = sorted(p for p in Path(channel_dir).rglob("*.parquet") if not p.name.startswith((".", "_")))
    if not files:
        raise TrainingDataError(f"no .parquet files in the train channel {channel_dir}")
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def training_arrays(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    missing = [c for c in (*feature_spec.FEATURE_COLUMNS, feature_spec.LABEL_COLUMN) if c not in frame]
    if missing:
        raise TrainingDataError(f"the training set lacks columns {missing}")
    labels = frame[feature_spec.LABEL_COLUMN].to_numpy(dtype=int)
    if labels.size == 0 or labels.min() == labels.max():
        raise TrainingDataError(f"the training set needs both classes; got {labels.size} rows, "
                                f"{int(labels.sum())} fraud")
    features = frame[list(feature_spec.FEATURE_COLUMNS)].apply(pd.to_numeric, errors="coerce")
    return features.to_numpy(dtype=float), labels


def fit(features: np.ndarray, labels: np.ndarray, args: argparse.Namespace) -> Any:
    estimator = HistGradientBoostingClassifier(
        learning_rate=args.learning_rate,
        max_iter=args.max_iter,
        max_leaf_nodes=args.max_leaf_nodes,
        min_samples_leaf=args.min_samples_leaf,
        l2_regularization=args.l2_regularization,
        early_stopping=False,  # the held-out window is the evaluation's, not training's
        random_state=args.random_state,
    )
    # As many OpenMP threads as the instance has CPUs (SageMaker sets SM_NUM_CPUS), never more.
    with threadpool_limits(limits=int(os.environ.get("SM_NUM_CPUS") or os.cpu_count() or 1), user_api="openmp"):
        return estimator.fit(features, labels)


def train(args: argparse.Namespace) -> dict[str, Any]:
    frame = read_channel(args.train)
    features, labels = training_arrays(frame)
    estimator = fit(features, labels, args)
    in_sample_auc = float(roc_auc_score(labels, estimator.predict_proba(features)[:, 1]))
    summary = {
        "rows": int(labels.size),
        "positives": int(labels.sum()),
        "fraud_rate": float(labels.mean()),
        "in_sample_auc": in_sample_auc,
        "hyperparameters": {k: v for k, v in vars(args).items() if k not in ("model_dir", "train", "output_data_dir")},
    }
    if "event_date" in frame:
        dates = pd.to_datetime(frame["event_date"])
        summary["window"] = [dates.min().date().isoformat(), dates.max().date().isoformat()]
    bundle = model_bundle.make_bundle(estimator, feature_spec.FEATURE_COLUMNS, args.decision_threshold,
                                      args.model_version, summary)
    os.makedirs(args.model_dir, exist_ok=True)
    model_bundle.save_bundle(bundle, args.model_dir)
    os.makedirs(args.output_data_dir, exist_ok=True)
    with open(os.path.join(args.output_data_dir, "training_summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
    # Read by the training job's MetricDefinitions (regexes over this output).
    print(f"train:rows={summary['rows']}")
    print(f"train:positives={summary['positives']}")
    print(f"train:auc={in_sample_auc:.6f}")
    return summary


def write_failure(reason: str) -> None:
    output_dir = os.environ.get("SM_OUTPUT_DIR")
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)
        with open(os.path.join(output_dir, "failure"), "w", encoding="utf-8") as handle:
            handle.write(reason)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        train(parse_args(sys.argv[1:] if argv is None else argv))
    except Exception as exc:
        traceback.print_exc()
        write_failure(f"{type(exc).__name__}: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
