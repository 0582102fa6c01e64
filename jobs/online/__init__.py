"""The online feature store: gold `customer_features` served by key, one interface and two stores.

- `jobs.online.sqlite_store`: a SQLite file under the lake's `ops/online/` (local runs; no server);
- `jobs.online.dynamodb_store`: a DynamoDB table (AWS; created by the deploy template).

Both keep one item per `customer_id` and apply every write on the same condition: the stored
`as_of_date` is not newer than the written one, so a backfill of an older date never overwrites a
newer value. `jobs.online.stores.open_store` picks one from the job's arguments.
"""

from jobs.online.records import FeatureRecord, WriteSummary
from jobs.online.stores import OnlineStore, open_store

__all__ = ["FeatureRecord", "OnlineStore", "WriteSummary", "open_store"]
