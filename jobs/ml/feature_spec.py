"""The model's input columns: one list shared by the training set, the scoring input and the model.

Pure Python (no Spark): SageMaker's training and inference containers import it too. Vocabularies
come from the data model's allowed values, never from the data, so a column means the same thing on
every day. Append new columns at the end; a model records the list it was trained on.
"""

from __future__ import annotations

CHANNELS: tuple[str, ...] = ("online", "in_store", "mobile", "atm")
MERCHANT_CATEGORIES: tuple[str, ...] = ("grocery", "restaurants", "travel", "electronics", "fashion", "fuel",
                                        "entertainment", "health", "utilities", "gambling")
SEGMENTS: tuple[str, ...] = ("consumer", "premium", "small_business", "enterprise")

# Seconds before a transaction over which the same customer's earlier transactions are counted.
VELOCITY_WINDOWS: dict[str, int] = {"10m": 600, "1h": 3_600, "24h": 86_400}

TRANSACTION_FEATURES: tuple[str, ...] = (
    "amount",
    "log_amount",
    "hour_of_day",
    "is_night",
    *(f"channel_{c}" for c in CHANNELS),
    *(f"category_{c}" for c in MERCHANT_CATEGORIES),
)
# Same customer, strictly before the transaction (intraday, from silver).
VELOCITY_FEATURES: tuple[str, ...] = tuple(f"txn_count_prev_{name}" for name in VELOCITY_WINDOWS)
# Days since the customer signed up, at the transaction's time (silver customers' created_at).
CUSTOMER_FEATURES: tuple[str, ...] = ("tenure_days",)
# The customer's spend embedding (gold `customer_embedding`, jobs/gold/embeddings.py), one column per
# dimension; null when the customer had no spend in the 30 days or no transform was fitted yet. In the
# training set beside the model's features, but not among them: on the demo lake it lowered the held-out
# AUC (0.803 with, 0.821 without; bench/embedding_auc.py, docs/online_features.md). Add it to
# FEATURE_COLUMNS where that comparison says it helps.
EMBEDDING_DIMENSIONS = 4
EMBEDDING_FEATURES: tuple[str, ...] = tuple(f"embedding_{i}" for i in range(EMBEDDING_DIMENSIONS))
# The customer's gold `customer_features` snapshot as of the day before the transaction.
HISTORY_FEATURES: tuple[str, ...] = (
    "has_history",
    "txn_count_7d",
    "txn_count_30d",
    "avg_amount_30d",
    "amount_to_avg_30d",
    "distinct_merchants_30d",
    "days_since_last_txn",
    *(f"segment_{s}" for s in SEGMENTS),
    "country_index",
)
FEATURE_COLUMNS: tuple[str, ...] = (*TRANSACTION_FEATURES, *VELOCITY_FEATURES, *CUSTOMER_FEATURES, *HISTORY_FEATURES)

ID_COLUMN = "transaction_id"
LABEL_COLUMN = "label"  # 1 = fraud, from silver `is_fraud`
