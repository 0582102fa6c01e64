"""Gold tables as pure DataFrame → DataFrame transforms (the I/O is in `jobs.silver_to_gold`)."""

from jobs.gold.features import FEATURE_COLUMNS, customer_features
from jobs.gold.late_arrivals import late_event_days
from jobs.gold.merchant_metrics import METRIC_COLUMNS, daily_merchant_metrics, daily_merchant_metrics_for_days
from jobs.gold.vocabulary import COUNTRIES, SEGMENT_COLUMNS, SEGMENTS

__all__ = [
    "COUNTRIES",
    "FEATURE_COLUMNS",
    "METRIC_COLUMNS",
    "SEGMENTS",
    "SEGMENT_COLUMNS",
    "customer_features",
    "daily_merchant_metrics",
    "daily_merchant_metrics_for_days",
    "late_event_days",
]
