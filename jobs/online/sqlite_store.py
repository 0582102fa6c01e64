"""The local online store: one SQLite file in the lake (`<lake>/ops/online/customer_features.sqlite`).

The conditional write is an upsert whose UPDATE branch carries the same condition DynamoDB's
ConditionExpression does (`stored as_of_date <= written as_of_date`), so a row refused by it
changes nothing; `rowcount` tells written from refused. A batch is one transaction.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from jobs.online.records import DEFAULT_TTL_DAYS, FeatureRecord, WriteSummary

SCHEMA = """
CREATE TABLE IF NOT EXISTS customer_features (
    customer_id TEXT PRIMARY KEY,
    as_of_date TEXT NOT NULL,
    feature_set_version TEXT NOT NULL,
    features TEXT NOT NULL,
    expires_at INTEGER NOT NULL
)"""
UPSERT = """
INSERT INTO customer_features (customer_id, as_of_date, feature_set_version, features, expires_at)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT(customer_id) DO UPDATE SET
    as_of_date = excluded.as_of_date,
    feature_set_version = excluded.feature_set_version,
    features = excluded.features,
    expires_at = excluded.expires_at
WHERE customer_features.as_of_date <= excluded.as_of_date"""
SELECT = "SELECT customer_id, as_of_date, feature_set_version, features FROM customer_features"


def dump_features(features: dict[str, Any]) -> str:
    """JSON with decimals written digit for digit (json.dumps would need floats)."""
    def value(item: Any) -> str:
        if isinstance(item, Decimal):
            return str(item)
        if isinstance(item, list):
            return "[" + ",".join(value(x) for x in item) + "]"
        return json.dumps(item)

    return "{" + ",".join(f"{json.dumps(name)}:{value(item)}" for name, item in sorted(features.items())) + "}"


def load_features(text: str) -> dict[str, Any]:
    return json.loads(text, parse_float=Decimal, parse_int=Decimal)


class SqliteStore:
    def __init__(self, path: str, ttl_days: int = DEFAULT_TTL_DAYS, clock: Callable[[], float] = time.time):
        self.path = path
        self.ttl_seconds = ttl_days * 86_400
        self.clock = clock
        self.description = f"sqlite:{path}"

    def _connect(self) -> sqlite3.Connection:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30)
        connection.execute(SCHEMA)
        return connection

    def write(self, records: Iterable[FeatureRecord]) -> WriteSummary:
        summary = WriteSummary()
        expires_at = int(self.clock()) + self.ttl_seconds
        connection = self._connect()
        try:
            with connection:  # one transaction
                for record in records:
                    cursor = connection.execute(UPSERT, (record.customer_id, record.as_of_date,
                                                         record.feature_set_version, dump_features(record.features),
                                                         expires_at))
                    if cursor.rowcount:
                        summary.written += 1
                    else:
                        summary.skipped_older += 1
        finally:
            connection.close()
        return summary

    def get(self, customer_id: str) -> FeatureRecord | None:
        return self.get_many([customer_id]).get(customer_id)

    def get_many(self, customer_ids: Iterable[str]) -> dict[str, FeatureRecord]:
        wanted = list(dict.fromkeys(customer_ids))
        if not wanted or not Path(self.path).exists():
            return {}
        found: dict[str, FeatureRecord] = {}
        connection = self._connect()
        try:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                rows = connection.execute(
                    f"{SELECT} WHERE expires_at > ? AND customer_id IN ({','.join('?' * len(chunk))})",
                    (int(self.clock()), *chunk)).fetchall()
                for customer_id, as_of, version, features in rows:
                    found[customer_id] = FeatureRecord(customer_id, as_of, version, load_features(features))
        finally:
            connection.close()
        return found

    def purge_expired(self) -> int:
        if not Path(self.path).exists():
            return 0
        connection = self._connect()
        try:
            with connection:
                return connection.execute("DELETE FROM customer_features WHERE expires_at <= ?",
                                          (int(self.clock()),)).rowcount
        finally:
            connection.close()
