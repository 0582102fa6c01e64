"""The fraud model: point-in-time features (Spark), SageMaker script-mode training and inference
scripts, held-out evaluation, and the model registry's Glue jobs.

`train.py`, `inference.py` and the modules they import (`feature_spec`, `model_bundle`,
`evaluate`) are also shipped flat as SageMaker's source directory, so they import each other as
top-level modules there and as `jobs.ml.*` here (see `model_bundle.py`), and never import Spark.
"""
