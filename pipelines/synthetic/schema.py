"""Bronze contracts the generator writes (field names are a shared contract), layout and label paths."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

CUSTOMERS = "customers"
TRANSACTIONS = "transactions"
SUPPORT_TICKETS = "support_tickets"
DATASETS = (CUSTOMERS, TRANSACTIONS, SUPPORT_TICKETS)

CUSTOMER_COLUMNS = (
    "customer_id", "first_name", "last_name", "email", "phone", "ssn", "date_of_birth", "street", "city",
    "state", "postal_code", "country", "segment", "created_at", "updated_at",
)
TRANSACTION_COLUMNS = (
    "transaction_id", "customer_id", "card_number", "amount", "currency", "merchant_id",
    "merchant_category", "event_time", "channel", "ip_address", "is_fraud",
)
SUPPORT_TICKET_COLUMNS = ("ticket_id", "customer_id", "created_at", "channel", "subject", "body")
PARTNER_EXTRA_COLUMN = "promo_code"  # only in the dirty partner CSV
CUSTOMER_EXTRA_FIELD = "loyalty_tier"  # only on some dirty customer rows

KEY_COLUMN = {CUSTOMERS: "customer_id", TRANSACTIONS: "transaction_id", SUPPORT_TICKETS: "ticket_id"}
EVENT_TIME_COLUMN = {CUSTOMERS: "updated_at", TRANSACTIONS: "event_time", SUPPORT_TICKETS: "created_at"}

SEGMENTS = ("consumer", "premium", "small_business", "enterprise")
COUNTRIES = ("US", "CA", "GB", "DE", "FR", "ES", "IT", "NL", "IE", "AU")
CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
TRANSACTION_CHANNELS = ("online", "in_store", "mobile", "atm")
TICKET_CHANNELS = ("email", "phone", "chat", "web")
COUNTRY_CURRENCY = {"US": "USD", "CA": "CAD", "GB": "GBP", "AU": "AUD", "DE": "EUR", "FR": "EUR",
                    "ES": "EUR", "IT": "EUR", "NL": "EUR", "IE": "EUR"}

SECONDS_PER_DAY = 86_400


def day_start_seconds(day: date) -> int:
    """Epoch seconds of the day's midnight UTC."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def bronze_dir(lake_root: Path, dataset: str, day: date) -> Path:
    return lake_root / "bronze" / dataset / f"ingest_date={day.isoformat()}"


def bronze_file_name(dataset: str, day: date) -> str:
    extension = "csv" if dataset == TRANSACTIONS else "jsonl"
    return f"{dataset}-{day.isoformat()}.{extension}"


def partner_file_name(day: date) -> str:
    return f"{TRANSACTIONS}-{day.isoformat()}-partner.csv"


# Labels live beside the layers, never inside bronze: they hold the ground truth the pipeline must not see.
def labels_root(lake_root: Path) -> Path:
    return lake_root / "_labels"


def ticket_labels_path(lake_root: Path, day: date) -> Path:
    return labels_root(lake_root) / SUPPORT_TICKETS / f"ingest_date={day.isoformat()}" / "labels.jsonl"


def pii_values_path(lake_root: Path, day: date) -> Path:
    return labels_root(lake_root) / "pii_values" / f"ingest_date={day.isoformat()}" / "pii_values.jsonl"


def dirty_labels_path(lake_root: Path, day: date) -> Path:
    return labels_root(lake_root) / "dirty" / f"ingest_date={day.isoformat()}.json"


def report_path(lake_root: Path) -> Path:
    return labels_root(lake_root) / "generation_report.json"
