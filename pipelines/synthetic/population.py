"""The customer population: who exists, their profile, cards, spending habits, and how they change.

The population is a pandas DataFrame, one row per customer, carrying both the bronze fields and the
hidden traits that drive transactions (typical spend, activity, home IP, cards). Times are epoch
seconds (int64, UTC).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.synthetic import identifiers as ids
from pipelines.synthetic import strings
from pipelines.synthetic.pools import EMAIL_DOMAINS, FakerPools, ascii_fold
from pipelines.synthetic.schema import (
    COUNTRIES,
    CUSTOMER_COLUMNS,
    SECONDS_PER_DAY,
    SEGMENTS,
    day_start_seconds,
)

COUNTRY_WEIGHTS = np.array([50, 8, 10, 7, 6, 4, 4, 4, 3, 4], dtype=float)
SEGMENT_WEIGHTS = np.array([70, 15, 10, 5], dtype=float)
SEGMENT_SPEND_MULTIPLIER = {"consumer": 1.0, "premium": 2.0, "small_business": 2.5, "enterprise": 4.0}
CARD_BRAND_WEIGHTS = {"visa16": 45, "mastercard51": 25, "mastercard2": 10, "amex": 12, "visa19": 4,
                      "maestro19": 4}
SECOND_CARD_SHARE = 0.3
RECENT_SIGNUP_SHARE = 0.04  # of the initial population, created in the 3 days before the start
UPDATABLE_FIELDS = ("segment", "phone", "email", "address")


def initial_size(rows_per_day: int) -> int:
    return max(50, rows_per_day // 4)


def daily_new_customers(population_size: int) -> int:
    return max(5, population_size // 100)


def daily_updates(population_size: int) -> int:
    return max(10, population_size // 50)


def format_phone_field(digits: pa.Array) -> pa.Array:
    """The structured `phone` field, `(555) 123-4567`, from 10-digit strings."""
    def part(start: int, stop: int) -> pa.Array:
        return pc.utf8_slice_codeunits(digits, start, stop)

    return strings.concat("(", part(0, 3), ") ", part(3, 6), "-", part(6, 10))


def _emails(rng: np.random.Generator, first_folded: pa.Array, last_folded: pa.Array) -> pa.Array:
    """`first.last`, `firstlast42`, `flast`, `first_last` or `first.last42` at a common domain."""
    count = len(first_folded)
    patterns = pa.array(rng.integers(0, 5, size=count))
    number = strings.decimal(rng.integers(1, 100, size=count))
    domain = ids.choose_strings(rng, EMAIL_DOMAINS, count)
    f, l_ = first_folded, last_folded
    local = pc.choose(patterns, strings.concat(f, ".", l_), strings.concat(f, l_, number),
                      strings.concat(pc.utf8_slice_codeunits(f, 0, 1), l_), strings.concat(f, "_", l_),
                      strings.concat(f, ".", l_, number))
    return strings.concat(local, "@", domain)


def _addresses(rng: np.random.Generator, pools: FakerPools, country_index: np.ndarray) -> dict[str, np.ndarray]:
    flat = pools.flat_addresses
    positions = flat.pick(rng, country_index)
    return {name: strings.objects(strings.take(values, positions)) for name, values in flat.columns.items()}


def make_customers(rng: np.random.Generator, pools: FakerPools, first_number: int, created_s: np.ndarray,
                   as_of: date) -> pd.DataFrame:
    """New customers numbered from `first_number`, created at the given epoch seconds."""
    count = len(created_s)
    numbers = np.arange(first_number, first_number + count)
    country_index = rng.choice(len(COUNTRIES), size=count, p=COUNTRY_WEIGHTS / COUNTRY_WEIGHTS.sum())
    segment_index = rng.choice(len(SEGMENTS), size=count, p=SEGMENT_WEIGHTS / SEGMENT_WEIGHTS.sum())
    first_rows = pools.flat_first_names.pick(rng, country_index)
    last_rows = pools.flat_last_names.pick(rng, country_index)
    first_columns, last_columns = pools.flat_first_names.columns, pools.flat_last_names.columns
    age_days = rng.integers(18 * 365, 90 * 365, size=count)
    birth_days = (np.datetime64(as_of, "D") - age_days.astype("timedelta64[D]")).astype(np.int64)
    spend_multiplier = np.array([SEGMENT_SPEND_MULTIPLIER[s] for s in SEGMENTS])[segment_index]
    email = _emails(rng, strings.take(first_columns["folded"], first_rows),
                    strings.take(last_columns["folded"], last_rows))
    phone = ids.phone_digits(rng, count)
    ssn = ids.ssns(rng, count)
    typical_spend = np.exp(rng.normal(np.log(40.0), 0.6, size=count)) * spend_multiplier
    activity = np.exp(rng.normal(0.0, 0.8, size=count))
    home_ip = ids.ipv4_addresses(rng, count)
    primary = ids.card_numbers(rng, count, CARD_BRAND_WEIGHTS)
    secondary = strings.objects(ids.card_numbers(rng, count, CARD_BRAND_WEIGHTS))
    has_secondary = rng.random(count) < SECOND_CARD_SHARE
    frame = pd.DataFrame({
        "number": numbers,
        "customer_id": strings.objects(ids.customer_ids(numbers)),
        "first_name": strings.objects(strings.take(first_columns["name"], first_rows)),
        "last_name": strings.objects(strings.take(last_columns["name"], last_rows)),
        "email": strings.objects(email),
        "phone_digits": strings.objects(phone),
        "ssn": strings.objects(ssn),
        "date_of_birth": strings.objects(strings.iso_dates(birth_days)),
        "country": np.array(COUNTRIES, dtype=object)[country_index],
        "segment": np.array(SEGMENTS, dtype=object)[segment_index],
        "created_s": created_s.astype(np.int64),
        "updated_s": created_s.astype(np.int64),
        "typical_spend": typical_spend,
        "activity": activity,
        "home_ip": strings.objects(home_ip),
        "card_primary": strings.objects(primary),
        "card_secondary": np.where(has_secondary, secondary, ""),
    })
    for name, values in _addresses(rng, pools, country_index).items():
        frame[name] = values
    return frame


def initial_population(rng: np.random.Generator, pools: FakerPools, size: int, start: date) -> pd.DataFrame:
    """Customers who exist before the first day: most signed up over 5 years, a few in the last 3 days."""
    start_s = day_start_seconds(start)
    recent = rng.random(size) < RECENT_SIGNUP_SHARE
    created = np.where(
        recent,
        start_s - rng.integers(1, 3 * SECONDS_PER_DAY, size=size),
        start_s - rng.integers(4 * SECONDS_PER_DAY, 5 * 365 * SECONDS_PER_DAY, size=size),
    )
    return make_customers(rng, pools, 1, np.sort(created), start)


def signups_on(rng: np.random.Generator, pools: FakerPools, population: pd.DataFrame, day: date,
               count: int) -> pd.DataFrame:
    """Customers who sign up during `day` (numbered after the current population)."""
    created = day_start_seconds(day) + np.sort(rng.integers(0, SECONDS_PER_DAY - 3600, size=count))
    first_number = int(population["number"].max()) + 1 if len(population) else 1
    return make_customers(rng, pools, first_number, created, day)


def apply_updates(rng: np.random.Generator, pools: FakerPools, customers: pd.DataFrame, day: date) -> pd.DataFrame:
    """Change one or two profile fields of each given customer, stamped with an `updated_s` during `day`."""
    changed = customers.copy()
    count = len(changed)
    changed["updated_s"] = day_start_seconds(day) + rng.integers(0, SECONDS_PER_DAY, size=count)
    fields = rng.integers(0, len(UPDATABLE_FIELDS), size=(count, 2))
    second_field = rng.random(count) < 0.3
    country_index = np.array([COUNTRIES.index(c) for c in changed["country"]], dtype=np.int64)
    for field_index, field in enumerate(UPDATABLE_FIELDS):
        rows = np.flatnonzero((fields[:, 0] == field_index) | (second_field & (fields[:, 1] == field_index)))
        if not rows.size:
            continue
        if field == "segment":
            current = np.array([SEGMENTS.index(s) for s in changed["segment"].to_numpy()[rows]])
            shifted = (current + rng.integers(1, len(SEGMENTS), size=rows.size)) % len(SEGMENTS)
            new_values = {"segment": np.array(SEGMENTS, dtype=object)[shifted]}
        elif field == "phone":
            new_values = {"phone_digits": strings.objects(ids.phone_digits(rng, rows.size))}
        elif field == "email":
            folded = [pa.array([ascii_fold(v) or fallback for v in changed[column].to_numpy()[rows]])
                      for column, fallback in (("first_name", "user"), ("last_name", "mail"))]
            new_values = {"email": strings.objects(_emails(rng, *folded))}
        else:
            new_values = _addresses(rng, pools, country_index[rows])
        for column, values in new_values.items():
            changed.iloc[rows, changed.columns.get_loc(column)] = values
    # A redrawn e-mail or address can equal the old one; such profiles get a new phone instead.
    profile = ["segment", "phone_digits", "email", "street", "city", "state", "postal_code"]
    unchanged = np.flatnonzero((changed[profile].to_numpy() == customers[profile].to_numpy()).all(axis=1))
    if unchanged.size:
        changed.iloc[unchanged, changed.columns.get_loc("phone_digits")] = strings.objects(
            ids.phone_digits(rng, unchanged.size))
    return changed


def bronze_customer_records(customers: pd.DataFrame) -> pa.Table:
    """The bronze view: exactly the contract fields, as strings."""
    columns = {name: pa.array(customers[name].to_numpy(), type=pa.string()) for name in CUSTOMER_COLUMNS
               if name not in ("phone", "created_at", "updated_at")}
    columns["phone"] = format_phone_field(pa.array(customers["phone_digits"].to_numpy(), type=pa.string()))
    columns["created_at"] = strings.iso_utc(customers["created_s"].to_numpy())
    columns["updated_at"] = strings.iso_utc(customers["updated_s"].to_numpy())
    return pa.table({name: columns[name] for name in CUSTOMER_COLUMNS})


def customers_for_day(rng: np.random.Generator, pools: FakerPools, population: pd.DataFrame, day: date,
                      first_day: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the day's customer rows in population form, the population after the day).

    Day one sends every customer (a full export, `updated_s` within the day); later days send the
    day's sign-ups plus re-sent profiles of existing customers with a changed field. The sent rows
    carry `floor_s`: the latest time already known for that customer (sign-up or previous version),
    which an older re-sent version must not predate.
    """
    day_s = day_start_seconds(day)
    if first_day:
        sent = population.copy()
        sent["updated_s"] = np.maximum(day_s + rng.integers(0, SECONDS_PER_DAY, size=len(sent)),
                                       sent["created_s"].to_numpy())
        after = sent.copy()
        sent["floor_s"] = sent["created_s"]
        return sent.sort_values("updated_s", kind="stable").reset_index(drop=True), after
    signups = signups_on(rng, pools, population, day, daily_new_customers(len(population)))
    signups["updated_s"] = signups["created_s"].to_numpy() + rng.integers(0, 600, size=len(signups))
    existing = population[population["created_s"] < day_s]
    update_count = min(daily_updates(len(population)), len(existing))
    chosen = np.sort(rng.choice(len(existing), size=update_count, replace=False))
    updated = apply_updates(rng, pools, existing.iloc[chosen], day)
    after = population.copy()
    after.loc[updated.index, updated.columns] = updated
    after = pd.concat([after, signups], ignore_index=True)
    updated["floor_s"] = existing["updated_s"].iloc[chosen].to_numpy()
    signups["floor_s"] = signups["created_s"]
    sent = pd.concat([updated, signups], ignore_index=True).sort_values("updated_s", kind="stable")
    return sent.reset_index(drop=True), after
