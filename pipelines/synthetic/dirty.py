"""`--dirty`: the flaws real feeds have, injected in exactly counted numbers and labelled by line.

Per dataset and ingest date, with `n` = the clean rows of the day's main file, each flaw affects
`max(1, round(rate * n))` rows (fewer only when not enough rows qualify; the report holds the
actual numbers):

flaw (rate) -> what is written -> expected pipeline outcome:

- exact_duplicate (1.0 %): an extra, byte-identical copy of a clean line -> duplicate.
- stale_resend (0.5 %): an extra line with the same key, an older event time (same day) and one
  other field changed (amount / segment / channel); the newer original must win -> duplicate.
- late_arrival (1.0 %): the row's event time moved 1-3 days before the ingest date -> promote to
  its event-date partition.
- null_required (0.5 %): a required field empty, null or absent (key, customer_id, amount, event
  time) -> quarantine.
- malformed (0.3 %): truncated JSON; a CSV line cut short or with an unterminated quote -> quarantine.
- wrong_type (0.5 %): amounts `"12,50 EUR"` / `"abc"`, event times `"yesterday"`, `is_fraud`
  `"maybe"`, birth dates `"31/02/1990"` -> quarantine.
- extra_column (1.0 %): customers get a `loyalty_tier` field on the row; transactions get a second
  file `transactions-D-partner.csv` whose header adds `promo_code` -> schema_drift (the row is
  otherwise valid).

Support tickets get every flaw but `extra_column`. Flaws never overlap: a row carries at most one,
and duplicates/stale re-sends copy rows that carry none. Every flawed line is labelled with its file
(relative to the lake root), 1-based physical line number (a CSV header is line 1) and key.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date

import numpy as np
import pyarrow as pa

from pipelines.synthetic import identifiers as ids
from pipelines.synthetic import strings
from pipelines.synthetic.rendering import MISSING, csv_header, csv_lines, csv_record_line, json_record_line
from pipelines.synthetic.schema import (
    CUSTOMER_EXTRA_FIELD,
    CUSTOMERS,
    EVENT_TIME_COLUMN,
    KEY_COLUMN,
    PARTNER_EXTRA_COLUMN,
    SECONDS_PER_DAY,
    SEGMENTS,
    SUPPORT_TICKETS,
    TICKET_CHANNELS,
    TRANSACTION_COLUMNS,
    TRANSACTIONS,
    day_start_seconds,
)

EXACT_DUPLICATE = "exact_duplicate"
STALE_RESEND = "stale_resend"
LATE_ARRIVAL = "late_arrival"
NULL_REQUIRED = "null_required"
MALFORMED = "malformed"
WRONG_TYPE = "wrong_type"
EXTRA_COLUMN = "extra_column"
FLAWS = (EXACT_DUPLICATE, STALE_RESEND, LATE_ARRIVAL, NULL_REQUIRED, MALFORMED, WRONG_TYPE, EXTRA_COLUMN)

FLAW_RATES = {EXACT_DUPLICATE: 0.010, STALE_RESEND: 0.005, LATE_ARRIVAL: 0.010, NULL_REQUIRED: 0.005,
              MALFORMED: 0.003, WRONG_TYPE: 0.005, EXTRA_COLUMN: 0.010}
EXPECTED_OUTCOME = {EXACT_DUPLICATE: "duplicate", STALE_RESEND: "duplicate", LATE_ARRIVAL: "promote",
                    NULL_REQUIRED: "quarantine", MALFORMED: "quarantine", WRONG_TYPE: "quarantine",
                    EXTRA_COLUMN: "schema_drift"}
DATASET_FLAWS = {
    CUSTOMERS: FLAWS,
    TRANSACTIONS: FLAWS,
    SUPPORT_TICKETS: tuple(f for f in FLAWS if f != EXTRA_COLUMN),
}
REQUIRED_COLUMNS = {
    CUSTOMERS: ("customer_id", "updated_at"),
    TRANSACTIONS: ("transaction_id", "customer_id", "amount", "event_time"),
    SUPPORT_TICKETS: ("ticket_id", "customer_id", "created_at"),
}
# (column, replacement); MISSING drops the JSON key, None writes null, "" an empty value
NULL_VARIANTS: dict[str, tuple[tuple[str, object], ...]] = {
    CUSTOMERS: (("customer_id", MISSING), ("customer_id", None), ("updated_at", None)),
    TRANSACTIONS: (("customer_id", ""), ("amount", ""), ("event_time", "")),
    SUPPORT_TICKETS: (("customer_id", None), ("ticket_id", MISSING), ("created_at", "")),
}
WRONG_TYPE_VARIANTS: dict[str, tuple[tuple[str, str], ...]] = {
    CUSTOMERS: (("date_of_birth", "31/02/1990"), ("date_of_birth", "30/02/1985"), ("updated_at", "yesterday")),
    TRANSACTIONS: (("amount", "12,50 EUR"), ("amount", "abc"), ("event_time", "yesterday"), ("is_fraud", "maybe")),
    SUPPORT_TICKETS: (("created_at", "yesterday"), ("created_at", "31/02/2024 25:61")),
}
LOYALTY_TIERS = ("bronze", "silver", "gold", "platinum")
PROMO_CODES = ("SPRING10", "WELCOME5", "FREESHIP", "VIP20", "BLACKFRIDAY", "LOYAL15")


@dataclass(frozen=True)
class FlawLabel:
    flaw: str
    dataset: str
    file: str  # relative to the lake root
    line: int  # 1-based physical line; a CSV header is line 1
    key: str | None  # the row's key as generated (even when the flaw blanked it)
    column: str | None = None
    value: object = None  # the value written into `column`, when the flaw set one
    detail: str = ""
    original_line: int | None = None  # duplicates and stale re-sends: the line of the row they copy

    def to_dict(self) -> dict[str, object]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["value"] = None if self.value is MISSING else self.value
        out["expected_outcome"] = EXPECTED_OUTCOME[self.flaw]
        return out


@dataclass
class DirtyFile:
    lines: list[str]  # data lines, header included for CSV
    labels: list[FlawLabel]
    counts: dict[str, int]


def flaw_target(flaw: str, clean_rows: int) -> int:
    return max(1, round(FLAW_RATES[flaw] * clean_rows)) if clean_rows else 0


class _RowPicker:
    """Hands out disjoint random rows, so a row never carries two flaws."""

    def __init__(self, rng: np.random.Generator, count: int) -> None:
        self.order = rng.permutation(count)
        self.free = np.ones(count, dtype=bool)

    def take(self, count: int, eligible: np.ndarray | None = None) -> np.ndarray:
        usable = self.free[self.order]
        if eligible is not None:
            usable &= eligible[self.order]
        chosen = self.order[usable][:count]
        self.free[chosen] = False
        return chosen


def _malform(rng: np.random.Generator, line: str, is_csv: bool) -> tuple[str, str]:
    if not is_csv:
        cut = int(len(line) * rng.uniform(0.3, 0.9))
        return line[:cut], "truncated JSON object"
    fields = line.split(",")
    if rng.random() < 0.5:
        keep = len(fields) - int(rng.integers(1, 5))
        return ",".join(fields[:keep]), f"{keep} of {len(fields)} fields"
    position = int(rng.integers(1, len(fields) - 1))
    fields[position] = '"' + fields[position]
    return ",".join(fields), f"unterminated quote opening field {position + 1}"


def _stale_version(rng: np.random.Generator, dataset: str, record: dict[str, object], event_s: int,
                   lowest_s: int) -> dict[str, object]:
    """The record as it was earlier: an older event time and one other field different."""
    stale = dict(record)
    older = lowest_s + int(rng.random() * (event_s - lowest_s))
    stale[EVENT_TIME_COLUMN[dataset]] = strings.iso_utc_value(older)
    if dataset == TRANSACTIONS:
        cents = max(1, round(float(str(record["amount"])) * 100 * rng.uniform(0.5, 0.95)))
        stale["amount"] = f"{cents // 100}.{cents % 100:02d}"
    elif dataset == CUSTOMERS:
        stale["segment"] = SEGMENTS[(SEGMENTS.index(str(record["segment"])) + 1) % len(SEGMENTS)]
    else:
        stale["channel"] = TICKET_CHANNELS[(TICKET_CHANNELS.index(str(record["channel"])) + 1) % len(TICKET_CHANNELS)]
    return stale


def corrupt_main_file(rng: np.random.Generator, dataset: str, table: pa.Table, clean_lines: list[str],
                      columns: tuple[str, ...], day: date, relative_file: str) -> DirtyFile:
    """The day's main file for `dataset` with every flaw (but the partner file) injected.

    `clean_lines` are the table's rows rendered (no header). `table` holds the contract columns plus
    `_event_s` (event time, epoch seconds) and `_floor_s` (the earliest time an older version of the
    row may carry without contradicting data already sent: the customer's sign-up or the previous
    profile version).
    """
    count = table.num_rows
    is_csv = dataset == TRANSACTIONS
    day_s = day_start_seconds(day)
    event_column = EVENT_TIME_COLUMN[dataset]
    event_s = table.column("_event_s").to_numpy()
    floor_s = table.column("_floor_s").to_numpy()
    picker = _RowPicker(rng, count)
    targets = {flaw: flaw_target(flaw, count) for flaw in DATASET_FLAWS[dataset]}

    def render(values: dict[str, object], extra: dict[str, object] | None = None) -> str:
        return csv_record_line(values, columns) if is_csv else json_record_line(values, columns, extra)

    # Choose every flaw's rows first (disjoint), then fetch the chosen records in one go.
    # Late by 1-3 whole days, but never before what was already sent about the row (its floor).
    most_days_back = np.clip((event_s - floor_s - 1) // SECONDS_PER_DAY, 0, 3)
    days_back = 1 + (rng.random(count) * most_days_back).astype(np.int64)
    late_rows = picker.take(targets[LATE_ARRIVAL], most_days_back >= 1)
    lowest_stale_s = np.maximum(day_s, floor_s + 1)
    stale_sources = picker.take(targets[STALE_RESEND], event_s - lowest_stale_s >= 60)
    null_rows = picker.take(targets[NULL_REQUIRED])
    wrong_rows = picker.take(targets[WRONG_TYPE])
    malformed_rows = picker.take(targets[MALFORMED])
    extra_rows = picker.take(targets[EXTRA_COLUMN]) if dataset == CUSTOMERS else np.array([], dtype=np.int64)
    duplicate_sources = picker.take(targets[EXACT_DUPLICATE])
    fetched = np.concatenate([late_rows, stale_sources, null_rows, wrong_rows, extra_rows])
    records = dict(zip(fetched.tolist(), table.select(list(columns)).take(pa.array(fetched, type=pa.int64()))
                       .to_pylist(), strict=True))

    lines = list(clean_lines)
    row_labels: dict[int, tuple[str, str | None, object, str]] = {}  # row -> (flaw, column, value, detail)
    for row in late_rows.tolist():
        values = records[row]
        values[event_column] = strings.iso_utc_value(int(event_s[row] - days_back[row] * SECONDS_PER_DAY))
        lines[row] = render(values)
        row_labels[row] = (LATE_ARRIVAL, event_column, values[event_column],
                           f"{int(days_back[row])} day(s) before the ingest date")
    for flaw, rows, variants in ((NULL_REQUIRED, null_rows, NULL_VARIANTS[dataset]),
                                 (WRONG_TYPE, wrong_rows, WRONG_TYPE_VARIANTS[dataset])):
        for row in rows.tolist():
            column, value = variants[int(rng.integers(0, len(variants)))]
            values = dict(records[row], **{column: value})
            lines[row] = render(values)
            row_labels[row] = (flaw, column, value, "")
    for row in malformed_rows.tolist():
        lines[row], detail = _malform(rng, lines[row], is_csv)
        row_labels[row] = (MALFORMED, None, None, detail)
    for row in extra_rows.tolist():
        tier = LOYALTY_TIERS[int(rng.integers(0, len(LOYALTY_TIERS)))]
        lines[row] = render(records[row], {CUSTOMER_EXTRA_FIELD: tier})
        row_labels[row] = (EXTRA_COLUMN, CUSTOMER_EXTRA_FIELD, tier, "unexpected JSON field")

    extra_lines = [lines[r] for r in duplicate_sources.tolist()]
    extra_lines += [render(_stale_version(rng, dataset, records[r], int(event_s[r]), int(lowest_stale_s[r])))
                    for r in stale_sources.tolist()]
    extra_meta = ([(EXACT_DUPLICATE, int(r), "copy of the line") for r in duplicate_sources.tolist()]
                  + [(STALE_RESEND, int(r), "older version of the row") for r in stale_sources.tolist()])

    # Interleave: each extra line lands before a random base row (or at the end).
    positions = rng.integers(0, count + 1, size=len(extra_lines))
    final_order = np.argsort(np.concatenate([np.arange(count) * 2 + 1, positions * 2]), kind="stable")
    header_offset = 1 if is_csv else 0
    line_of = np.empty(final_order.size, dtype=np.int64)
    line_of[final_order] = np.arange(final_order.size) + 1 + header_offset
    all_lines = lines + extra_lines
    ordered = [all_lines[i] for i in final_order.tolist()]
    if is_csv:
        ordered.insert(0, csv_header(columns))

    labelled_rows = sorted(row_labels) + [source for _, source, _ in extra_meta]
    keys = table.column(KEY_COLUMN[dataset]).take(pa.array(labelled_rows, type=pa.int64())).to_pylist()
    key_of = dict(zip(labelled_rows, keys, strict=True))
    labels = [FlawLabel(flaw, dataset, relative_file, int(line_of[row]), key_of[row], column, value, detail)
              for row, (flaw, column, value, detail) in sorted(row_labels.items())]
    for offset, (flaw, source, detail) in enumerate(extra_meta):
        labels.append(FlawLabel(flaw, dataset, relative_file, int(line_of[count + offset]), key_of[source],
                                event_column if flaw == STALE_RESEND else None, None, detail,
                                int(line_of[source])))
    labels.sort(key=lambda label: label.line)
    counts = dict.fromkeys(DATASET_FLAWS[dataset], 0)
    for label in labels:
        counts[label.flaw] += 1
    return DirtyFile(lines=ordered, labels=labels, counts=counts)


def partner_file(rng: np.random.Generator, table: pa.Table, relative_file: str) -> DirtyFile:
    """The partner CSV: valid transactions under a header with one unexpected column, `promo_code`."""
    columns = (*TRANSACTION_COLUMNS, PARTNER_EXTRA_COLUMN)
    promos = ids.choose_strings(rng, PROMO_CODES, table.num_rows)
    with_promo = table.append_column(PARTNER_EXTRA_COLUMN, promos)
    lines = [csv_header(columns), *csv_lines(with_promo, columns).to_pylist()]
    keys = table.column("transaction_id").to_pylist()
    labels = [FlawLabel(EXTRA_COLUMN, TRANSACTIONS, relative_file, index + 2, key, PARTNER_EXTRA_COLUMN, promo,
                        "row of a file whose header has an extra column")
              for index, (key, promo) in enumerate(zip(keys, promos.to_pylist(), strict=True))]
    return DirtyFile(lines=lines, labels=labels, counts={EXTRA_COLUMN: len(labels)})


def partner_row_count(rows_per_day: int) -> int:
    return flaw_target(EXTRA_COLUMN, rows_per_day)
