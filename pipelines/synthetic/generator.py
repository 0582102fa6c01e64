"""Orchestrates a generation run: simulate day by day, write bronze files and the side labels.

Randomness comes from independent numpy streams keyed by (seed, day, purpose), so a run is fully
determined by its arguments, and a `--dirty` run writes the same rows as a clean one with the flaws
applied on top (flaws and the partner file's extra transactions draw from their own streams).
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.synthetic import dirty as flaws
from pipelines.synthetic import strings
from pipelines.synthetic.pools import build_pools
from pipelines.synthetic.population import bronze_customer_records, customers_for_day, initial_population, initial_size
from pipelines.synthetic.rendering import csv_header, csv_lines, json_lines
from pipelines.synthetic.report import DatasetDayReport, GenerationReport
from pipelines.synthetic.schema import (
    CUSTOMER_COLUMNS,
    CUSTOMERS,
    SUPPORT_TICKET_COLUMNS,
    SUPPORT_TICKETS,
    TRANSACTION_COLUMNS,
    TRANSACTIONS,
    bronze_dir,
    bronze_file_name,
    dirty_labels_path,
    partner_file_name,
    pii_values_path,
    report_path,
    ticket_labels_path,
)
from pipelines.synthetic.tickets import generate_tickets, ticket_count
from pipelines.synthetic.transactions import DRIFT_SHIFT, generate_transactions, make_merchants
from pipelines.synthetic.writers import (
    remove_if_present,
    write_arrow_lines,
    write_json,
    write_json_lines,
    write_lines,
)

MAX_ROWS_PER_DAY = 1_999_000  # the ticket id space holds 100,000 tickets a day (5 % of the transactions)
_STREAMS = {"population": 1, "merchants": 2, "customers": 3, "transactions": 4, "tickets": 5, "dirty": 6,
            "partner": 7}

# Structured columns holding direct identifiers: their raw values go to the leak-audit list.
PII_COLUMNS: dict[str, dict[str, str]] = {
    CUSTOMERS: {"first_name": "PERSON", "last_name": "PERSON", "email": "EMAIL_ADDRESS", "phone": "PHONE_NUMBER",
                "ssn": "US_SSN", "date_of_birth": "DATE_OF_BIRTH", "street": "STREET_ADDRESS"},
    TRANSACTIONS: {"card_number": "CREDIT_CARD", "ip_address": "IP_ADDRESS"},
}


def _rng(seed: int, purpose: str, day: date | None = None, part: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, _STREAMS[purpose], day.toordinal() if day else 0, part])


def _pii_value_lines(dataset: str, table: pa.Table) -> list[str]:
    """One JSON line per structured PII column: its distinct raw values in bronze that day."""
    out = []
    for column, entity_type in PII_COLUMNS.get(dataset, {}).items():
        values = pc.unique(table.column(column)).drop_null()
        values = strings.json_string_body(values.filter(pc.not_equal(values, "")))
        listed = '["' + '","'.join(values.to_pylist()) + '"]' if len(values) else "[]"
        out.append(f'{{"dataset":"{dataset}","column":"{column}","type":"{entity_type}","values":{listed}}}')
    return out


def _write_dataset(lake_root: Path, seed: int, dataset: str, day: date, table: pa.Table,
                   columns: tuple[str, ...], dirty: bool,
                   partner: pa.Table | None = None) -> tuple[DatasetDayReport, list[dict[str, object]]]:
    """Write the day's file(s) for one dataset; returns its report entry and its flaw labels."""
    folder = bronze_dir(lake_root, dataset, day)
    main_path = folder / bronze_file_name(dataset, day)
    partner_path = folder / partner_file_name(day)
    remove_if_present([main_path, partner_path])  # a re-run replaces what an earlier run wrote
    relative = main_path.relative_to(lake_root).as_posix()
    is_csv = dataset == TRANSACTIONS
    lines = csv_lines(table, columns) if is_csv else json_lines(table, columns)
    header = [csv_header(columns)] if is_csv else []
    if not dirty:
        write_arrow_lines(main_path, lines, header)
        return DatasetDayReport(dataset, day, [relative], len(lines)), []

    stream = (CUSTOMERS, TRANSACTIONS, SUPPORT_TICKETS).index(dataset)
    dirty_file = flaws.corrupt_main_file(_rng(seed, "dirty", day, stream), dataset, table, lines.to_pylist(),
                                         columns, day, relative)
    write_lines(main_path, dirty_file.lines)
    files, counts, labels = [relative], dict(dirty_file.counts), list(dirty_file.labels)
    rows = len(dirty_file.lines) - len(header)
    if partner is not None:
        partner_relative = partner_path.relative_to(lake_root).as_posix()
        partner_file = flaws.partner_file(_rng(seed, "partner", day), partner, partner_relative)
        write_lines(partner_path, partner_file.lines)
        files.append(partner_relative)
        counts[flaws.EXTRA_COLUMN] = counts.get(flaws.EXTRA_COLUMN, 0) + partner_file.counts[flaws.EXTRA_COLUMN]
        labels += partner_file.labels
        rows += len(partner_file.lines) - 1
    return DatasetDayReport(dataset, day, files, rows, counts), [label.to_dict() for label in labels]


def _with_floor(table: pa.Table) -> pa.Table:
    """`_floor_s`: an older version of the row must still be after its customer's sign-up."""
    return table.append_column("_floor_s", pc.add(table.column("_customer_created_s"), 60))


def generate(lake_root: Path, start: date, days: int, rows_per_day: int, seed: int = 7,
             dirty: bool = False, drift_from: date | None = None) -> GenerationReport:
    """Write `days` ingest dates of bronze data from `start` into `lake_root`, plus labels in `_labels/`.
    From `drift_from` on, transactions are shifted (`transactions.DRIFT_SHIFT`: larger amounts, another
    channel mix); days before it are exactly those of a run without `drift_from`.

    Each call simulates its own customer population from `start`: extend a lake by generating a
    longer range with the same seed rather than by chaining calls with different starts.
    """
    if days < 1 or not 1 <= rows_per_day <= MAX_ROWS_PER_DAY:
        raise ValueError(f"days must be at least 1 and rows_per_day between 1 and {MAX_ROWS_PER_DAY:,}")
    began = time.perf_counter()
    lake_root = Path(lake_root)
    report = GenerationReport(lake_root=lake_root, start=start, days=days, rows_per_day=rows_per_day, seed=seed,
                              dirty=dirty, drift_from=drift_from)
    pools = build_pools()
    population = initial_population(_rng(seed, "population"), pools, initial_size(rows_per_day), start)
    merchants = make_merchants(_rng(seed, "merchants"), rows_per_day)
    partner_rows = flaws.partner_row_count(rows_per_day) if dirty else 0

    for offset in range(days):
        day = start + timedelta(days=offset)
        sent, population = customers_for_day(_rng(seed, "customers", day), pools, population, day, offset == 0)
        customers = (bronze_customer_records(sent)
                     .append_column("_event_s", pa.array(sent["updated_s"].to_numpy()))
                     .append_column("_floor_s", pa.array(sent["floor_s"].to_numpy())))

        shift = DRIFT_SHIFT if drift_from is not None and day >= drift_from else None
        transactions = _with_floor(generate_transactions(_rng(seed, "transactions", day), seed, day, rows_per_day,
                                                         population, merchants, shift=shift))
        partner = None
        if partner_rows:  # numbered after the main file's rows, so ids stay unique
            partner = _with_floor(generate_transactions(_rng(seed, "partner", day, 1), seed, day, partner_rows,
                                                        population, merchants, first_row=rows_per_day, shift=shift))
        for batch in (transactions, partner):
            if batch is not None:
                report.fraud_rows += int(pc.sum(pc.equal(batch.column("is_fraud"), "true")).as_py() or 0)

        tickets, entities = generate_tickets(_rng(seed, "tickets", day), pools, seed, day, ticket_count(rows_per_day),
                                             population)
        tickets = _with_floor(tickets)

        day_labels: dict[str, list[dict[str, object]]] = {}
        for dataset, table, columns, extra in (
                (CUSTOMERS, customers, CUSTOMER_COLUMNS, None),
                (TRANSACTIONS, transactions, TRANSACTION_COLUMNS, partner),
                (SUPPORT_TICKETS, tickets, SUPPORT_TICKET_COLUMNS, None)):
            entry, labels = _write_dataset(lake_root, seed, dataset, day, table, columns, dirty, extra)
            report.entries.append(entry)
            day_labels[dataset] = labels

        write_json_lines(ticket_labels_path(lake_root, day),
                         ({"ticket_id": ticket_id, "entities": found}
                          for ticket_id, found in zip(tickets.column("ticket_id").to_pylist(), entities, strict=True)))
        pii_tables = [(CUSTOMERS, customers),
                      (TRANSACTIONS, transactions if partner is None else pa.concat_tables([transactions, partner]))]
        write_lines(pii_values_path(lake_root, day),
                    [line for dataset, t in pii_tables for line in _pii_value_lines(dataset, t)])
        dirty_path = dirty_labels_path(lake_root, day)
        if dirty:
            write_json(dirty_path, {
                "ingest_date": day.isoformat(),
                "flaw_rates": flaws.FLAW_RATES,
                "expected_outcome": flaws.EXPECTED_OUTCOME,
                "datasets": {
                    entry.dataset: {"files": entry.files, "rows_written": entry.rows_written, "counts": entry.flaws,
                                    "flaws": day_labels[entry.dataset]}
                    for entry in report.entries if entry.ingest_date == day
                },
            }, pretty=False)
        else:
            remove_if_present([dirty_path])

    report.elapsed_seconds = time.perf_counter() - began
    write_json(report_path(lake_root), report.to_dict())
    return report
