"""The AWS online store: a DynamoDB table keyed by `customer_id` (created by the deploy template).

Why conditional PutItem calls in a thread pool rather than BatchWriteItem: BatchWriteItem takes no
ConditionExpression, so it cannot say "only if the stored as_of_date is not newer", and reading the
stored dates first and batch-writing the rest would race a concurrent writer of a newer date (the
check and the write are not one operation). A conditional PutItem is one atomic check-and-write per
item; the pool gives the throughput batching would (on-demand capacity, one HTTP call per item, many
in flight). Reads for `features check` use BatchGetItem, whose unprocessed keys are retried with
exponential backoff and full jitter, as are throttled writes. Expired items are filtered out on read:
DynamoDB's TTL deletes them, but only eventually (typically within days).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from jobs.online.records import AS_OF, DEFAULT_TTL_DAYS, KEY, VERSION, FeatureRecord, WriteSummary

TTL_ATTRIBUTE = "expires_at"
WRITE_CONDITION = f"attribute_not_exists({KEY}) OR {AS_OF} <= :as_of"
RETRYABLE_ERRORS = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException",
                              "RequestLimitExceeded", "InternalServerError"})
BATCH_GET_LIMIT = 100


class OnlineStoreError(RuntimeError):
    """A write or read that still failed after its retries (the message names the customer or keys)."""


def backoff_delays(attempts: int, base: float = 0.05, cap: float = 5.0) -> list[float]:
    """Full-jitter exponential backoff: a random delay in [0, min(cap, base * 2**n)] before retry n."""
    return [random.uniform(0, min(cap, base * 2 ** n)) for n in range(attempts)]


def table_definition(name: str) -> dict[str, Any]:
    """CreateTable arguments: the key schema both the template and the tests use."""
    return {"TableName": name, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": KEY, "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": KEY, "KeyType": "HASH"}]}


class DynamoDbStore:
    def __init__(self, client: Any, table: str, ttl_days: int = DEFAULT_TTL_DAYS, workers: int = 16,
                 max_attempts: int = 8, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep):
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.client = client
        self.table = table
        self.ttl_seconds = ttl_days * 86_400
        self.workers = workers
        self.max_attempts = max_attempts
        self.clock = clock
        self.sleep = sleep
        self.description = f"dynamodb:{table}"
        self._to_attr = TypeSerializer().serialize
        self._from_attr = TypeDeserializer().deserialize

    @classmethod
    def connect(cls, table: str, region: str | None = None, endpoint_url: str | None = None,
                **options: Any) -> DynamoDbStore:
        import boto3
        from botocore.config import Config

        # botocore's own retries are off: this module retries throttling itself and counts it.
        config = Config(retries={"mode": "standard", "max_attempts": 1}, max_pool_connections=32)
        return cls(boto3.client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config),
                   table, **options)

    # -- writes ---------------------------------------------------------------------------------
    def _item(self, record: FeatureRecord, expires_at: int) -> dict[str, Any]:
        return {KEY: {"S": record.customer_id}, AS_OF: {"S": record.as_of_date},
                VERSION: {"S": record.feature_set_version}, "features": self._to_attr(record.features),
                TTL_ATTRIBUTE: {"N": str(expires_at)}}

    def _with_retries(self, call: Callable[[], Any], what: str, summary: WriteSummary) -> Any:
        from botocore.exceptions import ClientError

        delays = backoff_delays(self.max_attempts - 1)
        for attempt in range(self.max_attempts):
            try:
                return call()
            except ClientError as error:
                code = error.response["Error"]["Code"]
                if code not in RETRYABLE_ERRORS or attempt == self.max_attempts - 1:
                    if code in RETRYABLE_ERRORS:
                        raise OnlineStoreError(f"{self.description}: {what} still {code} after "
                                               f"{self.max_attempts} attempts") from error
                    raise
                summary.retries += 1
                self.sleep(delays[attempt])
        raise AssertionError("unreachable")

    def _put(self, record: FeatureRecord, expires_at: int) -> WriteSummary:
        from botocore.exceptions import ClientError

        summary = WriteSummary()
        try:
            self._with_retries(lambda: self.client.put_item(
                TableName=self.table, Item=self._item(record, expires_at), ConditionExpression=WRITE_CONDITION,
                ExpressionAttributeValues={":as_of": {"S": record.as_of_date}}),
                f"writing customer {record.customer_id}", summary)
            summary.written += 1
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise OnlineStoreError(f"{self.description}: writing customer {record.customer_id} "
                                       f"(as_of_date {record.as_of_date}) failed: {error}") from error
            summary.skipped_older += 1
        return summary

    def write(self, records: Iterable[FeatureRecord]) -> WriteSummary:
        expires_at = int(self.clock()) + self.ttl_seconds
        total = WriteSummary()
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            for outcome in pool.map(lambda record: self._put(record, expires_at), records):
                total.add(outcome)
        return total

    # -- reads ----------------------------------------------------------------------------------
    def _record(self, item: dict[str, Any]) -> FeatureRecord | None:
        expires = item.get(TTL_ATTRIBUTE)
        if expires is not None and int(expires["N"]) <= int(self.clock()):
            return None
        return FeatureRecord(item[KEY]["S"], item[AS_OF]["S"], item[VERSION]["S"],
                             self._from_attr(item["features"]))

    def get(self, customer_id: str) -> FeatureRecord | None:
        item = self.client.get_item(TableName=self.table, Key={KEY: {"S": customer_id}},
                                    ConsistentRead=True).get("Item")
        return self._record(item) if item else None

    def get_many(self, customer_ids: Iterable[str]) -> dict[str, FeatureRecord]:
        wanted = list(dict.fromkeys(customer_ids))
        found: dict[str, FeatureRecord] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            pending: dict[str, Any] = {self.table: {
                "Keys": [{KEY: {"S": c}} for c in wanted[start:start + BATCH_GET_LIMIT]], "ConsistentRead": True}}
            delays = backoff_delays(self.max_attempts)
            for attempt in range(self.max_attempts + 1):
                response = self.client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self.table, []):
                    if (record := self._record(item)) is not None:
                        found[record.customer_id] = record
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                if attempt == self.max_attempts:
                    raise OnlineStoreError(f"{self.description}: {len(pending[self.table]['Keys'])} keys still "
                                           f"unprocessed after {self.max_attempts} retries")
                self.sleep(delays[attempt])
        return found

    def purge_expired(self) -> int:
        return 0  # the table's TTL (on `expires_at`) deletes expired items
