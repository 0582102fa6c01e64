"""The interface both online stores implement, and the one place that picks a store.

`open_store(args, layout)`: DynamoDB when the job is given `--online_table` (the deployed jobs are;
`--online_endpoint_url` points it at an emulator), else the SQLite file under `<ops>/online/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from jobs.environment import in_s3
from jobs.online.records import FeatureRecord, WriteSummary

ONLINE_FOLDER = "online"
SQLITE_FILE = "customer_features.sqlite"


class OnlineStore(Protocol):
    """One item per customer_id; a write applies only when the stored as_of_date is not newer."""

    description: str  # where the store is, for reports and people

    def write(self, records: Iterable[FeatureRecord]) -> WriteSummary: ...

    def get(self, customer_id: str) -> FeatureRecord | None:
        """The customer's item, or None when there is none or it has expired."""
        ...

    def get_many(self, customer_ids: Iterable[str]) -> dict[str, FeatureRecord]: ...

    def purge_expired(self) -> int:
        """Delete expired items now; returns how many (DynamoDB's TTL deletes them by itself: 0)."""
        ...


def sqlite_path(ops_root: str) -> str:
    return f"{ops_root.rstrip('/')}/{ONLINE_FOLDER}/{SQLITE_FILE}"


def open_store(args: Mapping[str, Any], layout: Any) -> OnlineStore:
    table = args.get("online_table")
    if table:
        from jobs.online.dynamodb_store import DynamoDbStore

        return DynamoDbStore.connect(str(table), region=args.get("online_region") or None,
                                     endpoint_url=args.get("online_endpoint_url") or None)
    if in_s3(str(layout.ops)):
        raise ValueError(f"the lake's ops root {layout.ops} is on S3: the local SQLite online store needs a "
                         "local folder; give the job --online_table (the deployed DynamoDB table)")
    from jobs.online.sqlite_store import SqliteStore

    return SqliteStore(sqlite_path(layout.ops))
