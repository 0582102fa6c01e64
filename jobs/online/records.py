"""What the online store holds per customer, and the value codec both stores share.

Feature values are kept exact: integers and decimals as `Decimal` (DynamoDB's number type, and
what the gold decimal sums are), floats as the `Decimal` of their shortest repr (so they round-trip
unchanged), strings as strings, null as None, and vectors (the customer embedding) as lists of
those numbers. `to_json_value` turns them back into plain JSON for people and tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

KEY = "customer_id"
AS_OF = "as_of_date"
VERSION = "feature_set_version"
# Days an item lives after its last write: a customer who left the feature set is no longer
# written, so the item expires (DynamoDB TTL deletes it; both stores stop returning it).
DEFAULT_TTL_DAYS = 35

Value = Decimal | str | None | list[Any]


class FeatureValueError(ValueError):
    """A value the online store cannot hold (the message names the customer and the feature)."""


def encode_value(value: Any, customer_id: str, name: str) -> Value:
    """A gold value as the stores hold it (see the module docstring)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return Decimal(int(value))
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise FeatureValueError(f"customer {customer_id}: feature {name} is {value}, which the online "
                                    "store cannot hold (DynamoDB numbers are finite)")
        return Decimal(repr(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [encode_value(item, customer_id, name) for item in value]
    raise FeatureValueError(f"customer {customer_id}: feature {name} has unsupported type {type(value).__name__}")


def to_json_value(value: Any) -> Any:
    """Plain JSON: Decimal → int when integral, else float."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json_value(item) for key, item in value.items()}
    return value


@dataclass(frozen=True)
class FeatureRecord:
    """One customer's features as of a day, under a feature-set version."""

    customer_id: str
    as_of_date: str  # YYYY-MM-DD: compares correctly as a string, in SQLite and DynamoDB alike
    feature_set_version: str
    features: dict[str, Value] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.customer_id:
            raise FeatureValueError(f"a feature record needs a customer_id (as_of_date {self.as_of_date})")
        try:
            dt.date.fromisoformat(self.as_of_date)
        except (TypeError, ValueError):
            raise FeatureValueError(f"customer {self.customer_id}: as_of_date must be YYYY-MM-DD, "
                                    f"got {self.as_of_date!r}") from None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], feature_set_version: str | None = None) -> FeatureRecord:
        """A gold `customer_features` row (a dict); the version comes from the row unless given."""
        customer_id = str(row.get(KEY) or "")
        as_of = row.get(AS_OF)
        version = feature_set_version or row.get(VERSION)
        if not version:
            raise FeatureValueError(f"customer {customer_id}: no {VERSION} in the row and none given")
        features = {name: encode_value(value, customer_id, name) for name, value in row.items()
                    if name not in (KEY, AS_OF, VERSION)}
        as_of_text = as_of.isoformat() if isinstance(as_of, dt.date) else str(as_of)
        return cls(customer_id, as_of_text, str(version), features)

    def as_json(self) -> dict[str, Any]:
        return {KEY: self.customer_id, AS_OF: self.as_of_date, VERSION: self.feature_set_version,
                "features": to_json_value(self.features)}


@dataclass
class WriteSummary:
    """What a batch of conditional writes did."""

    written: int = 0  # new items, or items whose stored as_of_date was the same or older
    skipped_older: int = 0  # refused: the store already holds a newer as_of_date for the customer
    retries: int = 0  # throttled or unprocessed attempts that were retried with backoff

    def add(self, other: WriteSummary) -> None:
        self.written += other.written
        self.skipped_older += other.skipped_older
        self.retries += other.retries

    def as_dict(self) -> dict[str, int]:
        return {"written": self.written, "skipped_older": self.skipped_older, "retries": self.retries}
