"""docs/benchmarks.md from the JSON of one `python -m bench.run` (see bench/run.py).

    python -m bench.render docs/benchmarks.json > docs/benchmarks.md
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.sizing import sizing_lines


def _whole_text_person_recall(doc: dict[str, Any]) -> float:
    """The same run's PERSON recall with the NER reading every text whole (no name pre-check)."""
    return float(doc["sections"]["redaction"]["recall_whole_texts_to_ner"].get("PERSON", 1.0))


# (key, what it is, "≤" or "≥", the bound (a number, or read from the run), unit)
TARGETS: tuple[tuple[str, str, str, float | Callable[[dict[str, Any]], float], str], ...] = (
    ("bronze_to_silver_vs_floor", "bronze_to_silver (PII, gate) vs its Iceberg floor", "≤", 2.5, "×"),
    ("gate_vs_no_gate", "the job with its quality gate vs without", "≤", 1.10, "×"),
    ("redaction_texts_per_s_per_core", "free-text redaction, warm, texts/s per core", "≥", 400, ""),
    ("redaction_person_recall", "PERSON recall of that redaction (bound: the NER reading the same texts whole)",
     "≥", _whole_text_person_recall, ""),
    ("per_row_cost_max_vs_min", "per-row cost, largest over smallest across the scale curve (flat)", "≤", 1.25,
     "×"),
    ("per_row_cost_growth", "per-row cost at each size over the next smaller size's, worst step (never grows)",
     "≤", 1.1, "×"),
    ("day60_vs_day1", "a new day against grown silver vs against empty silver", "≤", 1.1, "×"),
    ("demo_day_s", "one ingestion day of the demo, JVM up (s)", "≤", 15, " s"),
)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


def _phases(phases: dict[str, float] | None) -> str:
    if not phases:
        return "n/a"
    return ", ".join(f"{name} {seconds:.1f}" for name, seconds in phases.items())


def render(doc: dict[str, Any]) -> str:
    sections = doc["sections"]
    machine = doc["machine"]
    plan = doc["plan"]
    lines = [
        "# Benchmarks",
        "",
        f"Rendered from the JSON of `{doc['command'].strip()}` (commit {doc['commit']}, {doc['date']}; "
        f"{machine['arch']}, {machine['cores']} cores, Python {machine['python']}, Spark local; load average "
        f"before the run {', '.join(f'{v:.1f}' for v in machine['load_average_before'])}; the whole run "
        f"{doc['total_seconds']:.0f} s). `make bench` runs it and writes this file. These machines are shared "
        "and noisy: compare the ratios, each measured within this one run, not the seconds. Figures recorded "
        "by hand from earlier runs are in [benchmark-history.md](benchmark-history.md).",
        "",
        "| figure | value | target | met |",
        "|---|---:|---:|:---:|",
    ]
    for key, label, comparison, bound, unit in TARGETS:
        value = doc.get(key)
        limit = bound(doc) if callable(bound) else float(bound)
        met = value is not None and (float(value) <= limit if comparison == "≤" else float(value) >= limit)
        lines.append(f"| `{key}`: {label} | {'n/a' if value is None else _number(float(value))} | "
                     f"{comparison} {limit:.3g}{unit} | {'n/a' if value is None else ('yes' if met else '**no**')} |")
    core = sections["bronze_to_silver"]
    lines += [
        "",
        f"## bronze_to_silver vs its floor ({core['bronze_rows']:,} bronze rows, best of {plan['repeats']})",
        "",
        "Floor: the same session reads the same bronze and writes the same rows, partitioned by event day, as one "
        "commit to an Iceberg table, with no typing, checks, deduplication, PII or gate.",
        "",
        "| run | seconds | vs Iceberg floor |",
        "|---|---:|---:|",
        f"| Iceberg floor | {core['iceberg_floor_seconds']:.1f} | 1.00× |",
        f"| Parquet floor (no table format) | {core['floor_seconds']:.1f} | "
        f"{core['floor_seconds'] / core['iceberg_floor_seconds']:.2f}× |",
        f"| bronze_to_silver without its gate | {core['job_without_gate_seconds']:.1f} | "
        f"{core['ratio_without_gate_to_iceberg_floor']:.2f}× |",
        f"| bronze_to_silver | {core['job_seconds']:.1f} | **{core['ratio_to_iceberg_floor']:.2f}×** |",
        "",
        f"Phases of the fastest run (s): {_phases(core.get('phases'))}; of the fastest run without the "
        f"gate: {_phases(core.get('phases_without_gate'))}.",
    ]
    scale = sections["scale"]
    lines += ["", "## Scale curve (bronze_to_silver into empty silver, one clean day each)", "",
              "| bronze rows | seconds | µs per row | rows/s | phases (s) |", "|---:|---:|---:|---:|---|"]
    for point in scale["points"]:
        lines.append(f"| {point['bronze_rows']:,} | {point['seconds']:.1f} | {point['microseconds_per_row']:.1f} | "
                     f"{point['rows_per_s']:,.0f} | {_phases(point.get('phases'))} |")
    lines.append(f"\nLargest per-row cost over smallest: **{scale['per_row_cost_max_vs_min']:.2f}×**"
                 + (f"; from one size to the next larger, the per-row cost changes by at most "
                    f"**{scale['per_row_cost_growth']:.2f}×** (below 1: it falls as the day grows, the run's "
                    "fixed cost spread over more rows)" if "per_row_cost_growth" in scale else "") + ".")
    largest = scale["points"][-1]
    lines += ["", "## Sizing for 100 GB of bronze a day on Glue", "",
              "From the largest point of the scale curve; the arithmetic and its assumptions are in bench/sizing.py "
              "(Glue vCPU = one local core, one worker is the driver, 1.5× headroom, the 1-hour RPO window). The "
              "workers per job and stage are set in infra/settings.py (`STAGE_PROFILES`).", ""]
    if "bronze_bytes" in largest:
        lines += sizing_lines(100e9, largest["bronze_bytes"], largest["seconds"], doc["machine"]["cores"])
    growth = sections["growth"]
    best = growth["best"]
    lines += ["", f"## Silver that grows ({growth['days']} earlier days, {growth['silver_rows_before']:,} rows)", "",
              "| silver before the run | searched | seconds | vs empty silver |", "|---|---|---:|---:|",
              f"| empty | n/a | {best['empty']:.1f} | 1.00× |",
              f"| {growth['days']} days | 3-day match window (shipped) | {best['window']:.1f} | "
              f"**{growth['window_ratio']:.2f}×** |",
              f"| {growth['days']} days | all of silver | {best['whole']:.1f} | {growth['whole_ratio']:.2f}× |"]
    redaction = sections["redaction"]
    recall = ", ".join(f"{kind} {value:.3f}" for kind, value in redaction["recall"].items())
    lines += ["", "## Free-text redaction (the generator's ticket bodies)", "",
              f"{redaction['texts']:,} bodies (mean {redaction['mean_chars']:.0f} characters), warm Python workers, "
              f"{redaction['parallelism']} cores: {redaction['texts_per_s']:.1f} texts/s, "
              f"**{redaction['texts_per_s_per_core']:.1f} texts/s per core**"
              + (f", {redaction['vs_spacy_pipe']:.2f}× spaCy's own batched speed on the same texts (`nlp.pipe`, "
                 f"tok2vec + ner, every text whole, one process: {redaction['spacy_pipe_texts_per_s']:.0f} texts/s)"
                 if "vs_spacy_pipe" in redaction else "")
              + ". Recall (labelled value no longer in "
              f"the redacted text): {recall}. The NER reading every text whole (no pre-check), same texts: "
              + ", ".join(f"{k} {v:.3f}" for k, v in redaction["recall_whole_texts_to_ner"].items()) + ". "
              "On the labelled set of tests/test_pii_redaction.py PERSON recall is 0.970 either way (asserted there)."]
    demo = sections["demo_day"]
    lines += ["", f"## One demo ingestion day, JVM up ({demo['rows_per_day']:,} transactions, dirty)", "",
              f"Day 2 end to end through the ingestion state machine: **{demo['seconds']:.1f} s**, "
              f"{demo.get('spark_jobs_total', '?')} Spark jobs (the fixed cost no machine load changes).", "",
              "| job | Spark jobs | phases (s) |", "|---|---:|---|"]
    spark_jobs = demo.get("spark_jobs", {})
    lines += [f"| {job} | {spark_jobs.get(job, '')} | {_phases(phases)} |" for job, phases in demo["jobs"].items()]
    lines += ["", "Section times (s): " + ", ".join(f"{k} {v}" for k, v in doc.get("section_seconds", {}).items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    print(render(json.loads(Path(args[0]).read_text())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
