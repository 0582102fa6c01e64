"""Vectorised generators for identifiers and structured PII values (ids, cards, SSNs, phones, IPs).

Everything here draws from a numpy `Generator`, so a whole column is produced in one call, and
returns an Arrow string array (see `strings`); the single-value formatters serve ticket text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pyarrow as pa

from pipelines.synthetic import strings

_MASK_48 = (1 << 48) - 1
_TICKET_SPACE = 10**10
_TICKET_EPOCH = date(2000, 1, 1)
MAX_TRANSACTIONS_PER_DAY = 1 << 24  # the per-day counter width inside a transaction id
MAX_TICKETS_PER_DAY = 100_000  # the per-day counter width inside a ticket id


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------
def customer_ids(numbers: np.ndarray) -> pa.Array:
    """`C` + 8 digits from 1-based customer numbers (creation order)."""
    return strings.concat("C", strings.zero_padded(numbers, 8))


def merchant_ids(rng: np.random.Generator, count: int) -> pa.Array:
    """`M` + 6 digits, distinct."""
    return strings.concat("M", strings.zero_padded(rng.choice(1_000_000, size=count, replace=False), 6))


def _id_mixing_keys(seed: int) -> tuple[int, int]:
    keys = np.random.default_rng([seed, 0x7A5]).integers(1, 1 << 47, size=2)
    return int(keys[0]) * 2 + 1, int(keys[1])  # odd multiplier: the affine map is a bijection


def transaction_ids(seed: int, day: date, row_numbers: np.ndarray) -> pa.Array:
    """`T` + 12 upper-case hex chars, unique across every day and row for a seed.

    The id is a keyed bijection of the counter `(day ordinal << 24) | row`, so ids never collide
    (not even between separate `generate` calls) yet look random.
    """
    if row_numbers.size and int(row_numbers.max()) >= MAX_TRANSACTIONS_PER_DAY:
        raise ValueError(f"at most {MAX_TRANSACTIONS_PER_DAY} transactions per day")
    multiplier, offset = _id_mixing_keys(seed)
    counters = (np.uint64(day.toordinal()) << np.uint64(24)) | row_numbers.astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = (counters * np.uint64(multiplier) + np.uint64(offset)) & np.uint64(_MASK_48)
    mixed ^= mixed >> np.uint64(21)  # xor-shift is invertible too; it stirs the low bits
    return strings.concat("T", strings.hex_upper(mixed, 12))


def ticket_ids(seed: int, day: date, row_numbers: np.ndarray) -> pa.Array:
    """`K` + 10 digits, unique across days: a keyed bijection of `days_since_2000 * 1e5 + row`."""
    if row_numbers.size and int(row_numbers.max()) >= MAX_TICKETS_PER_DAY:
        raise ValueError(f"at most {MAX_TICKETS_PER_DAY} support tickets per day")
    multiplier, offset = _id_mixing_keys(seed + 1)
    multiplier = multiplier % _TICKET_SPACE
    while multiplier % 2 == 0 or multiplier % 5 == 0:  # coprime to 10**10 keeps it a bijection
        multiplier += 1
    base = (day - _TICKET_EPOCH).days * MAX_TICKETS_PER_DAY
    mixed = [((base + r) * multiplier + offset) % _TICKET_SPACE for r in row_numbers.tolist()]
    return strings.concat("K", strings.zero_padded(np.array(mixed, dtype=np.int64), 10))


# ---------------------------------------------------------------------------------------------
# Payment cards
# ---------------------------------------------------------------------------------------------
# brand -> (prefix choices, total length)
CARD_BRANDS: dict[str, tuple[tuple[str, ...], int]] = {
    "visa16": (("4",), 16),
    "mastercard51": (("51", "52", "53", "54", "55"), 16),
    "mastercard2": (tuple(str(p) for p in range(2221, 2721)), 16),
    "amex": (("34", "37"), 15),
    "visa19": (("4",), 19),
    "maestro19": (("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763"), 19),
}


def luhn_check_digits(payload: np.ndarray) -> np.ndarray:
    """Check digits for a matrix of digit rows (each row: the number without its last digit)."""
    # Walking right to left, the payload's rightmost digit is doubled (it sits next to the check).
    reversed_digits = payload[:, ::-1]
    doubled = reversed_digits[:, 0::2] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = doubled.sum(axis=1) + reversed_digits[:, 1::2].sum(axis=1)
    return (10 - total % 10) % 10


def luhn_valid(number: str) -> bool:
    """Plain Luhn check of a digit string (used by tests and audits)."""
    digits = [int(c) for c in number]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        if position % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return bool(digits) and total % 10 == 0


def card_numbers_for_brand(rng: np.random.Generator, brand: str, count: int) -> pa.Array:
    prefixes, length = CARD_BRANDS[brand]
    prefix_digits = np.array([[int(c) for c in p] for p in prefixes], dtype=np.int64)  # one length per brand
    payload = rng.integers(0, 10, size=(count, length - 1), dtype=np.int64)
    payload[:, : prefix_digits.shape[1]] = prefix_digits[rng.integers(0, len(prefixes), size=count)]
    full = np.concatenate([payload, luhn_check_digits(payload)[:, None]], axis=1)
    return strings.digits(full)


def card_numbers(rng: np.random.Generator, count: int, brand_weights: dict[str, float]) -> pa.Array:
    """Luhn-valid card numbers, each brand drawn with its weight."""
    brands = list(brand_weights)
    weights = np.array([brand_weights[b] for b in brands], dtype=float)
    drawn = rng.choice(len(brands), size=count, p=weights / weights.sum())
    per_brand = [card_numbers_for_brand(rng, brand, int((drawn == index).sum())) for index, brand in enumerate(brands)]
    # Row i takes the next unused number of its brand: position = brand offset + rank within the brand.
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in per_brand])[:-1]])
    rank = np.empty(count, dtype=np.int64)
    for index in range(len(brands)):
        rows = drawn == index
        rank[rows] = np.arange(int(rows.sum()))
    return strings.take(pa.concat_arrays(per_brand), offsets[drawn] + rank)


def format_card(number: str, style: str) -> str:
    """`plain`, `spaces` or `dashes`; Amex groups 4-6-5, others in fours."""
    if style == "plain":
        return number
    groups = [number[:4], number[4:10], number[10:]] if len(number) == 15 else [
        number[i:i + 4] for i in range(0, len(number), 4)]
    return (" " if style == "spaces" else "-").join(groups)


# ---------------------------------------------------------------------------------------------
# SSNs, phones, IPs
# ---------------------------------------------------------------------------------------------
def ssns(rng: np.random.Generator, count: int) -> pa.Array:
    """Valid-looking US SSNs: area 001–899 except 666, group 01–99, serial 0001–9999."""
    area = rng.integers(1, 899, size=count)  # 1..898
    area = np.where(area >= 666, area + 1, area)  # skip 666 -> 1..899 without it
    group = rng.integers(1, 100, size=count)
    serial = rng.integers(1, 10_000, size=count)
    return strings.concat(strings.zero_padded(area, 3), strings.zero_padded(group, 2),
                          strings.zero_padded(serial, 4), separator="-")


def phone_digits(rng: np.random.Generator, count: int) -> pa.Array:
    """10-digit NANP numbers: area and exchange start 2–9, no N11 codes, area middle digit not 9."""
    area = rng.integers(2, 10, size=count) * 100 + rng.integers(0, 9, size=count) * 10 + rng.integers(
        0, 10, size=count)
    area = np.where(area % 100 == 11, area + 1, area)
    exchange = rng.integers(200, 1000, size=count)
    exchange = np.where(exchange % 100 == 11, exchange + 1, exchange)
    line = rng.integers(0, 10_000, size=count)
    return strings.concat(strings.zero_padded(area, 3), strings.zero_padded(exchange, 3),
                          strings.zero_padded(line, 4))


PHONE_STYLES = ("parens", "dashes", "international", "dots")


def format_phone(digits: str, style: str) -> str:
    """`(555) 123-4567`, `555-123-4567`, `+1 555 123 4567` or `555.123.4567`."""
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    if style == "parens":
        return f"({area}) {exchange}-{line}"
    if style == "dashes":
        return f"{area}-{exchange}-{line}"
    if style == "international":
        return f"+1 {area} {exchange} {line}"
    if style == "dots":
        return f"{area}.{exchange}.{line}"
    raise ValueError(f"unknown phone style {style!r}")


_PRIVATE_OR_SPECIAL_FIRST_OCTETS = np.array([0, 10, 100, 127, 169, 172, 192, 198])


def ipv4_addresses(rng: np.random.Generator, count: int) -> pa.Array:
    """Public-looking IPv4 addresses (first octet 1–223, avoiding private/special blocks)."""
    allowed = np.setdiff1d(np.arange(1, 224), _PRIVATE_OR_SPECIAL_FIRST_OCTETS)
    first = rng.choice(allowed, size=count)
    rest = rng.integers(0, 256, size=(count, 3))
    rest[:, 2] = np.clip(rest[:, 2], 1, 254)
    return strings.concat(strings.decimal(first), strings.decimal(rest[:, 0]), strings.decimal(rest[:, 1]),
                          strings.decimal(rest[:, 2]), separator=".")


def choose_strings(rng: np.random.Generator, pool: Sequence[str], count: int) -> pa.Array:
    return strings.take(pa.array(list(pool), type=pa.string()), rng.integers(0, len(pool), size=count))
