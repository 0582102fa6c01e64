"""Does the customer embedding help the fraud model? Held-out AUC with and without it.

`python -m bench.embedding_auc --lake-root lake --as-of 2024-01-03`: reads the gold `training_set` the
training pipeline built as of that date (train and holdout splits, pyiceberg, no JVM), fits the
pipeline's estimator (jobs/ml/train.py, its default hyperparameters) on the train split twice, with the
model's features alone and with the `embedding_*` columns added, and prints both AUCs on the holdout split.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sklearn.metrics import roc_auc_score

from jobs.ml import feature_spec, train
from pipelines.lake_tables import open_lake, to_pandas


def holdout_auc(frame: Any, columns: Sequence[str]) -> float:
    args = train.parse_args([])
    trainset, holdout = frame[frame["split"] == "train"], frame[frame["split"] == "holdout"]
    model = train.fit(trainset[list(columns)].to_numpy(dtype=float), trainset["label"].to_numpy(dtype=int), args)
    scores = model.predict_proba(holdout[list(columns)].to_numpy(dtype=float))[:, 1]
    return float(roc_auc_score(holdout["label"].to_numpy(dtype=int), scores))


def compare(lake_root: Path, as_of: str) -> dict[str, Any]:
    frame = to_pandas(open_lake(lake_root), "gold.training_set", row_filter=f"as_of_date = '{as_of}'")
    if frame.empty:
        raise SystemExit(f"no gold training_set rows as of {as_of} in {lake_root}: run the training pipeline first")
    without = list(feature_spec.FEATURE_COLUMNS)
    with_embedding = [*without, *feature_spec.EMBEDDING_FEATURES]
    embedded = frame[list(feature_spec.EMBEDDING_FEATURES)].notna().all(axis=1)
    return {
        "as_of": as_of,
        "rows": {split: int((frame["split"] == split).sum()) for split in ("train", "holdout")},
        "positives": {split: int(frame.loc[frame["split"] == split, "label"].sum()) for split in ("train", "holdout")},
        "rows_with_embedding": round(float(embedded.mean()), 4),
        "holdout_auc_with_embedding": round(holdout_auc(frame, with_embedding), 4),
        "holdout_auc_without_embedding": round(holdout_auc(frame, without), 4),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lake-root", type=Path, default=Path("lake"))
    parser.add_argument("--as-of", required=True, help="the training run date (YYYY-MM-DD)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    print(json.dumps(compare(args.lake_root, args.as_of), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
