"""Feature drift against the training baseline recorded with the model.

- `settings`: the thresholds and binning (one configuration);
- `profile`: a frame's per-feature statistics in one Spark aggregate (bins cut at given edges);
- `baseline`: the profile recorded at training time (quantile edges, shares, null rate, mean, std, scores);
- `compare`: PSI and verdicts of a current profile against the baseline (pure Python);
- `report`: the HTML page with one plot per feature.

The Glue jobs are `jobs.ml.drift_baseline` (training) and `jobs.feature_drift` (batch inference); the
alert is the batch-inference state machine's (`NotifyDrift`).
"""
