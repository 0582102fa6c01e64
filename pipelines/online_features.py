"""`lakehouse features get|check`: read the online feature store, and compare it with gold.

`check --date D` samples customers of gold `customer_features` as of D (read with pyiceberg, no JVM)
and compares each with its online item. A customer counts as a mismatch when its item is missing,
holds an older as_of_date than D, or holds D with other values or another feature-set version; an item
already holding a newer date than D is reported apart (a later run overwrote it, as it should), not as
a mismatch.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from jobs.lake import LakeLayout
from jobs.online.records import FeatureRecord, to_json_value
from jobs.online.stores import OnlineStore, open_store

GOLD_TABLE = "gold.customer_features"
DEFAULT_SAMPLE = 200


@dataclass
class CheckResult:
    as_of_date: str
    compared: int = 0
    newer_online: int = 0
    mismatches: list[dict[str, Any]] = field(default_factory=list)

    def lines(self, store: str, limit: int = 20) -> list[str]:
        out = [f"features check as of {self.as_of_date} against {store}: {self.compared} customers compared, "
               f"{len(self.mismatches)} mismatches, {self.newer_online} already newer online"]
        out += [f"  MISMATCH customer {m['customer_id']}: {m['reason']}" for m in self.mismatches[:limit]]
        if len(self.mismatches) > limit:
            out.append(f"  ... and {len(self.mismatches) - limit} more")
        return out


def differing_features(expected: FeatureRecord, online: FeatureRecord) -> list[str]:
    names = sorted(set(expected.features) | set(online.features))
    return [name for name in names if expected.features.get(name, "<absent>") != online.features.get(name, "<absent>")]


def compare(expected: Iterable[FeatureRecord], online: Mapping[str, FeatureRecord], as_of: str) -> CheckResult:
    """Pure: gold's records for `as_of` against what the online store returned for those customers."""
    result = CheckResult(as_of)
    for gold in expected:
        result.compared += 1
        item = online.get(gold.customer_id)
        if item is None:
            reason = "not in the online store (never materialised, or expired)"
        elif item.as_of_date > as_of:
            result.newer_online += 1
            continue
        elif item.as_of_date < as_of:
            reason = f"online holds as_of_date {item.as_of_date}, older than {as_of}"
        elif item.feature_set_version != gold.feature_set_version:
            reason = f"feature-set version {item.feature_set_version} online, {gold.feature_set_version} in gold"
        elif differing := differing_features(gold, item):
            shown = ", ".join(f"{n}: gold {to_json_value(gold.features.get(n))!r} online "
                              f"{to_json_value(item.features.get(n))!r}" for n in differing[:3])
            reason = f"{len(differing)} feature(s) differ ({shown})"
        else:
            continue
        result.mismatches.append({"customer_id": gold.customer_id, "reason": reason})
    return result


def sample_rows(rows: list[dict[str, Any]], size: int, seed: int = 0) -> list[dict[str, Any]]:
    """`size` rows at random (all of them when size is 0 or covers them), reproducibly."""
    if size <= 0 or size >= len(rows):
        return rows
    return random.Random(seed).sample(rows, size)


def gold_rows(lake_root: Path, as_of: date, target: str = "local", glue_database: str | None = None,
              region: str | None = None) -> list[dict[str, Any]]:
    """Gold's rows as of the day as plain Python values (Arrow's: ints stay ints, decimals Decimals)."""
    from pipelines.lake_tables import open_lake

    table = open_lake(lake_root, target, glue_database, region).load(GOLD_TABLE)
    return table.scan(row_filter=f"as_of_date = '{as_of.isoformat()}'").to_arrow().to_pylist()


def store_for(lake_root: Path, table: str | None = None, region: str | None = None,
              endpoint_url: str | None = None) -> OnlineStore:
    args = {"online_table": table, "online_region": region, "online_endpoint_url": endpoint_url}
    return open_store(args, LakeLayout.from_root(str(lake_root)))


def check(store: OnlineStore, rows: list[dict[str, Any]], as_of: date, sample: int = DEFAULT_SAMPLE,
          seed: int = 0) -> CheckResult:
    chosen = [FeatureRecord.from_row(row) for row in sample_rows(rows, sample, seed)]
    return compare(chosen, store.get_many(r.customer_id for r in chosen), as_of.isoformat())
