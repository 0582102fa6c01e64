"""Card transactions for one day, with a fraud label that carries learnable signal.

Generative model (all times UTC):

1. Who and when. A customer is drawn with probability proportional to a hidden lognormal
   `activity`, among customers existing that day. The hour follows a daytime-heavy profile (00:00–05:59
   is rare); a customer who signed up today only transacts after `created_at`.
2. What. A category is drawn from fixed weights, then a merchant of that category; the channel from
   online 35 % / in_store 42 % / mobile 18 % / atm 5 %. The amount is the customer's hidden typical
   spend x a category multiplier (travel 5, electronics 3.5, ... restaurants 0.8) x lognormal(0, 0.45);
   3 % of rows are "unusual" and multiplied again by e^U(1.2, 3.0). Amounts are clipped to
   [0.50, 25000.00] and rounded to cents. Currency follows the customer's country, 6 % another.
3. Bursts. About 0.6 % of rows start a burst: 2–5 further rows are moved onto the same customer
   within 10 minutes after it, on online/mobile channels from an unfamiliar IP.
4. The label. `logit = b0 + 1.5*risky_category(electronics|travel|gambling) + 1.0*online
   + 0.5*mobile + 1.5*night(00-05h) + 1.0*(amount >= 1000) + 1.2*clip(ln(amount/typical) - 1, 0, 3)
   + 2.0*(customer tenure < 3 days) + 2.5*in_burst + 1.0*(online/mobile from a non-home IP)`;
   `b0` is solved per day so the mean probability is 2 %, and `is_fraud ~ Bernoulli(sigmoid(logit))`.
   Every term is recoverable from the bronze columns (tenure via a join to customers; typical spend
   as the customer's median amount), so a simple model learns it.
5. Drift (`--drift-from`). On a shifted day (`Shift`) amounts are multiplied by `amount_factor` before
   clipping and channels follow `channel_weights`: a covariate shift of exactly two inputs, drawn from
   the same random streams, so every other column of the day is the same as on a clean run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jobs.ml.feature_spec import MERCHANT_CATEGORIES
from pipelines.synthetic import identifiers as ids
from pipelines.synthetic import strings
from pipelines.synthetic.schema import (
    COUNTRIES,
    COUNTRY_CURRENCY,
    CURRENCIES,
    SECONDS_PER_DAY,
    TRANSACTION_CHANNELS,
    TRANSACTION_COLUMNS,
    day_start_seconds,
)

BASE_FRAUD_RATE = 0.02
HOUR_WEIGHTS = np.array([1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 3, 4, 5, 5.5, 6, 6.5, 6, 5.5, 5.5, 6, 6.5, 7, 6.5,
                         5.5, 4, 3, 2])
CATEGORY_WEIGHTS = {"grocery": 22, "restaurants": 16, "travel": 5, "electronics": 7, "fashion": 10, "fuel": 12,
                    "entertainment": 8, "health": 7, "utilities": 9, "gambling": 2}
CATEGORY_AMOUNT_MULTIPLIER = {"grocery": 1.0, "restaurants": 0.8, "travel": 5.0, "electronics": 3.5,
                              "fashion": 1.5, "fuel": 1.0, "entertainment": 0.8, "health": 1.2, "utilities": 2.0,
                              "gambling": 1.5}
RISKY_CATEGORIES = ("electronics", "travel", "gambling")
CHANNEL_WEIGHTS = np.array([35, 42, 18, 5], dtype=float)  # TRANSACTION_CHANNELS order
UNUSUAL_SHARE = 0.03
FOREIGN_CURRENCY_SHARE = 0.06
AWAY_IP_SHARE = 0.10
BURST_START_SHARE = 0.006
BURST_WINDOW_SECONDS = 600
MIN_AMOUNT, MAX_AMOUNT = 0.50, 25_000.00
FRAUD_WEIGHTS = {"risky_category": 1.5, "online": 1.0, "mobile": 0.5, "night": 1.5, "large_amount": 1.0,
                 "unusual_amount": 1.2, "new_customer": 2.0, "in_burst": 2.5, "unfamiliar_ip": 1.0}


@dataclass(frozen=True)
class Shift:
    """A covariate shift for a drifted day: amounts scaled, another channel mix."""

    amount_factor: float = 2.0
    channel_weights: tuple[float, ...] = (60.0, 20.0, 15.0, 5.0)  # TRANSACTION_CHANNELS order


DRIFT_SHIFT = Shift()


@dataclass(frozen=True)
class Merchants:
    ids: pa.Array  # "M123456"
    categories: np.ndarray  # index into MERCHANT_CATEGORIES, sorted
    terminal_ips: pa.Array


def make_merchants(rng: np.random.Generator, rows_per_day: int) -> Merchants:
    count = max(100, min(20_000, rows_per_day // 20))
    weights = np.array([CATEGORY_WEIGHTS[c] for c in MERCHANT_CATEGORIES], dtype=float)
    categories = rng.choice(len(MERCHANT_CATEGORIES), size=count, p=weights / weights.sum())
    categories[: len(MERCHANT_CATEGORIES)] = np.arange(len(MERCHANT_CATEGORIES))  # every category has one
    order = np.argsort(categories, kind="stable")
    return Merchants(ids=strings.take(ids.merchant_ids(rng, count), order), categories=categories[order],
                     terminal_ips=strings.take(ids.ipv4_addresses(rng, count), order))


def _pick_merchants(rng: np.random.Generator, merchants: Merchants, categories: np.ndarray) -> np.ndarray:
    counts = np.bincount(merchants.categories, minlength=len(MERCHANT_CATEGORIES))
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return offsets[categories] + (rng.random(categories.size) * counts[categories]).astype(np.int64)


def solve_intercept(logit_without_intercept: np.ndarray, target_rate: float) -> float:
    """The b0 for which mean(sigmoid(b0 + x)) equals the target (bisection; the mean is monotone in b0).

    Solved on an evenly spaced sample of at most 200,000 rows: plenty for the mean, and fast.
    """
    step = max(1, logit_without_intercept.size // 200_000)
    logit_without_intercept = logit_without_intercept[::step]
    low, high = -20.0, 5.0
    for _ in range(30):
        middle = (low + high) / 2
        rate = float(np.mean(1.0 / (1.0 + np.exp(-(middle + logit_without_intercept)))))
        low, high = (middle, high) if rate < target_rate else (low, middle)
    return (low + high) / 2


def _event_seconds(rng: np.random.Generator, day_s: int, count: int) -> np.ndarray:
    hours = rng.choice(24, size=count, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    return day_s + hours * 3600 + rng.integers(0, 3600, size=count)


def _apply_bursts(rng: np.random.Generator, customer_rows: np.ndarray, event_s: np.ndarray, channels: np.ndarray,
                  day_end_s: int) -> np.ndarray:
    """Move rows into short same-customer bursts; returns the in-burst mask."""
    count = customer_rows.size
    in_burst = np.zeros(count, dtype=bool)
    starts = round(BURST_START_SHARE * count) if count >= 50 else 0
    if starts == 0:
        return in_burst
    followers_per_burst = rng.integers(2, 6, size=starts)
    total = starts + int(followers_per_burst.sum())
    if total > count:
        return in_burst
    chosen = rng.choice(count, size=total, replace=False)
    leaders, followers = chosen[:starts], chosen[starts:]
    owner = np.repeat(leaders, followers_per_burst)
    customer_rows[followers] = customer_rows[owner]
    event_s[leaders] = np.minimum(event_s[leaders], day_end_s - BURST_WINDOW_SECONDS)
    event_s[followers] = event_s[owner] + rng.integers(1, BURST_WINDOW_SECONDS, size=followers.size)
    in_burst[chosen] = True
    online_or_mobile = np.where(rng.random(total) < 0.7, TRANSACTION_CHANNELS.index("online"),
                                TRANSACTION_CHANNELS.index("mobile"))
    channels[chosen] = online_or_mobile
    return in_burst


def format_amounts(cents: np.ndarray) -> pa.Array:
    """Integer cents -> `1234.05`."""
    return strings.concat(strings.decimal(cents // 100), ".", strings.zero_padded(cents % 100, 2))


def _population_column(population: pd.DataFrame, name: str, rows: np.ndarray) -> pa.Array:
    return strings.take(pa.array(population[name].to_numpy(), type=pa.string()), rows)


def generate_transactions(rng: np.random.Generator, seed: int, day: date, count: int, population: pd.DataFrame,
                          merchants: Merchants, first_row: int = 0, shift: Shift | None = None) -> pa.Table:
    """`count` transactions during `day`, sorted by event time and numbered in that order from `first_row`;
    `shift` applies a drift (see the module's point 5).

    Returns the contract columns as strings plus hidden helper columns (prefixed `_`): `_event_s`,
    `_customer_created_s`, `_fraud_probability`, `_in_burst`, `_customer_row`.
    """
    day_s = day_start_seconds(day)
    day_end_s = day_s + SECONDS_PER_DAY - 1
    created = population["created_s"].to_numpy()
    eligible = np.flatnonzero(created < day_end_s - 3600)
    activity = population["activity"].to_numpy()[eligible]
    customer_rows = eligible[rng.choice(eligible.size, size=count, p=activity / activity.sum())]
    event_s = _event_seconds(rng, day_s, count)
    channel_weights = CHANNEL_WEIGHTS if shift is None else np.array(shift.channel_weights, dtype=float)
    channels = rng.choice(len(TRANSACTION_CHANNELS), size=count, p=channel_weights / channel_weights.sum())
    in_burst = _apply_bursts(rng, customer_rows, event_s, channels, day_end_s)

    # Someone who signed up today transacts only after signing up: squeeze their times into the rest of the day.
    customer_created = created[customer_rows]
    too_early = event_s < customer_created + 60
    if too_early.any():
        opened = customer_created[too_early] + 60
        fraction = (event_s[too_early] - day_s) / SECONDS_PER_DAY
        event_s[too_early] = opened + (fraction * (day_end_s - opened)).astype(np.int64)

    category_weights = np.array([CATEGORY_WEIGHTS[c] for c in MERCHANT_CATEGORIES], dtype=float)
    categories = rng.choice(len(MERCHANT_CATEGORIES), size=count, p=category_weights / category_weights.sum())
    merchant_rows = _pick_merchants(rng, merchants, categories)

    typical = population["typical_spend"].to_numpy()[customer_rows]
    multiplier = np.array([CATEGORY_AMOUNT_MULTIPLIER[c] for c in MERCHANT_CATEGORIES])[categories]
    amount = typical * multiplier * np.exp(rng.normal(0.0, 0.45, size=count))
    unusual = rng.random(count) < UNUSUAL_SHARE
    amount = np.where(unusual, amount * np.exp(rng.uniform(1.2, 3.0, size=count)), amount)
    if shift is not None:
        amount = amount * shift.amount_factor
    cents = np.clip(np.round(amount * 100), MIN_AMOUNT * 100, MAX_AMOUNT * 100).astype(np.int64)

    home_currency = np.array([CURRENCIES.index(COUNTRY_CURRENCY[c]) for c in COUNTRIES])
    customer_country = pd.Categorical(population["country"].to_numpy()[customer_rows], categories=COUNTRIES).codes
    foreign = rng.random(count) < FOREIGN_CURRENCY_SHARE
    currency = np.where(foreign, rng.integers(0, len(CURRENCIES), size=count), home_currency[customer_country])

    secondary_exists = population["card_secondary"].to_numpy()[customer_rows] != ""
    use_secondary = secondary_exists & (rng.random(count) < 0.25)
    remote = np.isin(channels, [TRANSACTION_CHANNELS.index("online"), TRANSACTION_CHANNELS.index("mobile")])
    away = remote & ((rng.random(count) < AWAY_IP_SHARE) | in_burst)

    amounts = cents / 100.0
    hour = (event_s - day_s) // 3600
    tenure_days = (event_s - customer_created) / SECONDS_PER_DAY
    features = {
        "risky_category": np.isin(categories, [MERCHANT_CATEGORIES.index(c) for c in RISKY_CATEGORIES]),
        "online": channels == TRANSACTION_CHANNELS.index("online"),
        "mobile": channels == TRANSACTION_CHANNELS.index("mobile"),
        "night": hour < 6,
        "large_amount": amounts >= 1000,
        "unusual_amount": np.clip(np.log(amounts / typical) - 1.0, 0.0, 3.0),
        "new_customer": tenure_days < 3,
        "in_burst": in_burst,
        "unfamiliar_ip": away,
    }
    logit = sum(FRAUD_WEIGHTS[name] * values.astype(float) for name, values in features.items())
    intercept = solve_intercept(logit, BASE_FRAUD_RATE)
    probability = 1.0 / (1.0 + np.exp(-(intercept + logit)))
    is_fraud = rng.random(count) < probability

    # Rows are written in event-time order: permute the numbers now, before any string is built.
    order = np.argsort(event_s, kind="stable")
    (customer_rows, channels, categories, merchant_rows, cents, currency, use_secondary, remote, away, event_s,
     customer_created, probability, in_burst, is_fraud) = (
        a[order] for a in (customer_rows, channels, categories, merchant_rows, cents, currency, use_secondary,
                           remote, away, event_s, customer_created, probability, in_burst, is_fraud))

    def labels(values: tuple[str, ...], index: np.ndarray) -> pa.Array:
        return strings.take(pa.array(values), index)

    cards = pc.if_else(pa.array(use_secondary), _population_column(population, "card_secondary", customer_rows),
                       _population_column(population, "card_primary", customer_rows))
    ip = pc.if_else(pa.array(remote),
                    pc.if_else(pa.array(away), ids.ipv4_addresses(rng, count),
                               _population_column(population, "home_ip", customer_rows)),
                    strings.take(merchants.terminal_ips, merchant_rows))
    table = pa.table({
        "transaction_id": ids.transaction_ids(seed, day, np.arange(first_row, first_row + count)),
        "customer_id": _population_column(population, "customer_id", customer_rows),
        "card_number": cards,
        "amount": format_amounts(cents),
        "currency": labels(CURRENCIES, currency),
        "merchant_id": strings.take(merchants.ids, merchant_rows),
        "merchant_category": labels(MERCHANT_CATEGORIES, categories),
        "event_time": strings.iso_utc(event_s),
        "channel": labels(TRANSACTION_CHANNELS, channels),
        "ip_address": ip,
        "is_fraud": labels(("false", "true"), is_fraud.astype(np.int64)),
        "_event_s": event_s,
        "_customer_created_s": customer_created,
        "_fraud_probability": probability,
        "_in_burst": in_burst,
        "_customer_row": customer_rows,
    })
    assert tuple(table.column_names[: len(TRANSACTION_COLUMNS)]) == TRANSACTION_COLUMNS
    return table
