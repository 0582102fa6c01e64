"""Synthetic bronze data: realistic, seeded customers, card transactions and support tickets.

`generate(lake_root, start, days, rows_per_day, seed=7, dirty=False)` writes one file per dataset
per ingest date under `bronze/`, and ground truth that the pipeline must never read under
`_labels/` (PII spans in ticket text, raw PII values for leak audits, injected flaws). `main(argv)`
is the command-line entry (`lakehouse generate`).

Modules: `generator` (the run), `population` (customers), `transactions` (the fraud model),
`tickets` (PII-bearing free text), `dirty` (flaws), `identifiers`/`strings`/`rendering`/`writers`
(vectorised formatting and output), `schema` (contracts and paths), `report`.
"""

from pipelines.synthetic.cli import main
from pipelines.synthetic.generator import generate
from pipelines.synthetic.report import DatasetDayReport, GenerationReport

__all__ = ["DatasetDayReport", "GenerationReport", "generate", "main"]
