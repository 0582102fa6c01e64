"""The online store's contract, run unchanged against both stores: the SQLite file in the lake and a
DynamoDB table on a moto server over HTTP (DynamoDB Local is not an option: its licence is the
vendor's own terms)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from jobs.online.dynamodb_store import TTL_ATTRIBUTE, DynamoDbStore, table_definition
from jobs.online.records import FeatureRecord, FeatureValueError, WriteSummary
from jobs.online.sqlite_store import SqliteStore
from tests.moto_endpoint import empty_moto_server

REGION = "us-east-1"
DAY = 86_400


class Clock:
    def __init__(self, now: float = 1_750_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    with empty_moto_server(REGION) as url:
        yield url


@pytest.fixture(params=["sqlite", "dynamodb"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A factory: make_store(clock, ttl_days) → a fresh, empty store of the parametrised kind."""
    counter = iter(range(1000))

    def sqlite(clock: Clock, ttl_days: int = 35) -> SqliteStore:
        return SqliteStore(str(tmp_path / f"online-{next(counter)}.sqlite"), ttl_days=ttl_days, clock=clock)

    def dynamodb(clock: Clock, ttl_days: int = 35) -> DynamoDbStore:
        endpoint = request.getfixturevalue("moto_endpoint")
        name = f"features-{request.node.name.replace('[', '-').rstrip(']')}-{next(counter)}"
        store = DynamoDbStore.connect(name, region=REGION, endpoint_url=endpoint, ttl_days=ttl_days, clock=clock,
                                      workers=4)
        store.client.create_table(**table_definition(name))
        store.client.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": TTL_ATTRIBUTE})
        return store

    return {"sqlite": sqlite, "dynamodb": dynamodb}[request.param]


def record(customer: str, as_of: str, **features: Any) -> FeatureRecord:
    return FeatureRecord.from_row({"customer_id": customer, "as_of_date": as_of, **features}, "fs-test")


def test_round_trip_keeps_values_exact(make_store: Any) -> None:
    store = make_store(Clock())
    written = record("c1", "2024-01-03", txn_count_7d=3, txn_amount_7d=Decimal("120.50"), avg_amount_30d=40.166666,
                     days_since_last_txn=None, segment="premium", customer_embedding=[0.125, -1.5e-07, 2.0])
    assert store.write([written]).as_dict() == {"written": 1, "skipped_older": 0, "retries": 0}
    read = store.get("c1")
    assert read == written
    assert read.as_json()["features"] == {"txn_count_7d": 3, "txn_amount_7d": 120.5, "avg_amount_30d": 40.166666,
                                          "days_since_last_txn": None, "segment": "premium",
                                          "customer_embedding": [0.125, -1.5e-07, 2]}
    assert store.get("nobody") is None


def test_an_older_backfill_never_overwrites_a_newer_value(make_store: Any) -> None:
    store = make_store(Clock())
    store.write([record("c1", "2024-01-05", txn_count_7d=9), record("c2", "2024-01-05", txn_count_7d=1)])
    backfill = store.write([record("c1", "2024-01-03", txn_count_7d=2), record("c3", "2024-01-03", txn_count_7d=4)])
    assert (backfill.written, backfill.skipped_older) == (1, 1)
    assert store.get("c1").as_of_date == "2024-01-05"
    assert store.get("c1").features["txn_count_7d"] == 9
    assert store.get("c3").features["txn_count_7d"] == 4
    # the same date again (a re-run) and a newer date both replace the item
    assert store.write([record("c1", "2024-01-05", txn_count_7d=10)]).written == 1
    assert store.get("c1").features["txn_count_7d"] == 10
    assert store.write([record("c1", "2024-01-06", txn_count_7d=11)]).written == 1
    assert store.get_many(["c1", "c2", "c3", "c4"]).keys() == {"c1", "c2", "c3"}
    assert store.get_many(["c1"])["c1"].as_of_date == "2024-01-06"


def test_items_not_rewritten_expire_after_the_ttl(make_store: Any) -> None:
    clock = Clock()
    store = make_store(clock, ttl_days=2)
    store.write([record("stays", "2024-01-01", x=1), record("leaves", "2024-01-01", x=1)])
    clock.now += 1 * DAY
    store.write([record("stays", "2024-01-02", x=2)])  # "leaves" left the feature set
    clock.now += 1.5 * DAY
    assert store.get("leaves") is None
    assert store.get("stays").features["x"] == 2
    assert set(store.get_many(["stays", "leaves"])) == {"stays"}
    store.purge_expired()
    assert store.get("leaves") is None


def test_many_items_in_one_write(make_store: Any) -> None:
    store = make_store(Clock())
    summary = store.write(record(f"c{i:04d}", "2024-01-03", n=i) for i in range(250))
    assert summary.written == 250
    found = store.get_many([f"c{i:04d}" for i in range(250)])
    assert len(found) == 250 and found["c0249"].features["n"] == 249


def test_bad_values_are_refused_with_the_customer_and_feature_named() -> None:
    with pytest.raises(FeatureValueError, match="customer c9: feature ratio is nan"):
        record("c9", "2024-01-03", ratio=float("nan"))
    with pytest.raises(FeatureValueError, match="customer c9: as_of_date must be YYYY-MM-DD"):
        record("c9", "03/01/2024")


def test_throttled_writes_are_retried_with_backoff() -> None:
    """moto never throttles, so the throttling answer is played by a stand-in client (the boundary
    that cannot be reached here); the retry loop itself is the real one."""
    from botocore.exceptions import ClientError

    class ThrottlingOnce:
        def __init__(self) -> None:
            self.calls = 0

        def put_item(self, **_: Any) -> dict[str, Any]:
            self.calls += 1
            if self.calls == 1:
                raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                                  "PutItem")
            return {}

    slept: list[float] = []
    fake = ThrottlingOnce()
    store = DynamoDbStore(fake, "t", workers=1, sleep=slept.append)
    assert store.write([record("c1", "2024-01-03", x=1)]) == WriteSummary(written=1, retries=1)
    assert fake.calls == 2 and len(slept) == 1
