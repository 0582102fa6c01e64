"""`lakehouse generate` / `python -m pipelines.synthetic`: write synthetic bronze data."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from pipelines.synthetic.generator import generate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakehouse generate",
        description="Write synthetic bronze data (customers, transactions, support tickets) and its labels.")
    parser.add_argument("--lake-root", type=Path, default=Path("./lake"), help="lake root folder (default ./lake)")
    parser.add_argument("--start", type=date.fromisoformat, required=True, help="first ingest date, YYYY-MM-DD")
    parser.add_argument("--days", type=int, required=True, help="number of ingest dates")
    parser.add_argument("--rows-per-day", type=int, required=True, help="transactions per ingest date")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--dirty", action="store_true", help="inject counted, labelled flaws into the feeds")
    parser.add_argument("--drift-from", type=date.fromisoformat, metavar="YYYY-MM-DD",
                        help="from this date on, shift the transactions' amounts and channel mix (feature drift)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = generate(args.lake_root, args.start, args.days, args.rows_per_day, seed=args.seed, dirty=args.dirty,
                      drift_from=args.drift_from)
    summary = {
        "lake_root": str(args.lake_root), "days": args.days, "dirty": args.dirty,
        "drift_from": args.drift_from.isoformat() if args.drift_from else None,
        "rows": {dataset: report.rows(dataset) for dataset in sorted({e.dataset for e in report.entries})},
        "fraud_rows": report.fraud_rows, "elapsed_seconds": round(report.elapsed_seconds, 2),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
