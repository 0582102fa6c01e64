"""Free-text redaction throughput and recall on the generator's support-ticket bodies.

The bodies and their labelled PII come from `pipelines.synthetic` (the same text a demo lake
ingests). The Spark path (`redact_columns`: pandas UDF, one engine per Python worker, batched
spaCy, NER only on sentences that could hold a name) runs once to warm its workers, then is timed
on the same rows; texts/s per core = texts / seconds / Spark's parallelism (one Python worker per
core). Recall is what a reader of silver would see: a labelled value counts as found when it no
longer appears in the redacted body; it is compared with the recall of the NER reading every text
whole (no pre-check) on the same bodies, in the driver. spaCy's own batched speed (`nlp.pipe`, tok2vec + ner, every text
whole, one process) on the same bodies is measured beside it: redaction per core over it is the
figure the machine's noise and the texts' length cancel out of.

    python -m bench.redaction_bench --texts 2000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from pyspark.sql import SparkSession

from bench.standalone import consume
from jobs.pii.redaction import redact_columns, redact_texts

TICKET_DAY = date(2024, 3, 1)
SHARE_OF_TRANSACTIONS = 0.05  # the generator writes one ticket per 20 transactions


def labelled_ticket_bodies(work_dir: Path, texts: int) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """At least `texts` ticket bodies from a clean generated day, and the PII labelled in each body."""
    from pipelines.synthetic import generate
    from pipelines.synthetic.schema import ticket_labels_path

    lake = work_dir / "tickets"
    generate(lake, TICKET_DAY, 1, int(texts / SHARE_OF_TRANSACTIONS) + 1000, seed=13, dirty=False)
    folder = lake / "bronze" / "support_tickets" / f"ingest_date={TICKET_DAY.isoformat()}"
    rows = [json.loads(line, strict=False) for path in sorted(folder.glob("*.jsonl"))
            for line in path.read_text().splitlines() if line.strip()]
    labels = {}
    for line in ticket_labels_path(lake, TICKET_DAY).read_text().splitlines():
        record = json.loads(line)
        labels[record["ticket_id"]] = [e for e in record["entities"] if e["field"] == "body"]
    rows = rows[:texts]
    return [row.get("body") or "" for row in rows], [labels.get(row["ticket_id"], []) for row in rows]


def leak_recall(labels: list[list[dict[str, Any]]], redacted: list[str]) -> dict[str, float]:
    """Per entity type: the share of labelled values no longer present in their redacted body."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for entities, text in zip(labels, redacted, strict=True):
        for entity in entities:
            total[entity["type"]] += 1
            found[entity["type"]] += str(entity["value"]) not in text
    return {kind: found[kind] / total[kind] for kind in sorted(total)}


@contextmanager
def whole_texts_to_ner() -> Iterator[None]:
    """Without the name pre-check: every text goes to the NER whole (what redaction did before it)."""
    from jobs.pii import name_candidates

    chosen = name_candidates.name_candidate_ranges
    name_candidates.name_candidate_ranges = lambda text, stop_words=None: [(0, len(text))] if text.strip() else []
    try:
        yield
    finally:
        name_candidates.name_candidate_ranges = chosen



def spacy_pipe_texts_per_s(bodies: list[str]) -> float:
    """spaCy's own batched speed on the same bodies in this process: `nlp.pipe` of the redaction's
    model with the pipes it runs (tok2vec, ner) over every text whole, warm; no Presidio, no Spark."""
    from jobs.pii.redaction import SPACY_BATCH_SIZE, get_analyzer

    nlp = get_analyzer().nlp_engine.nlp["en"]
    list(nlp.pipe(bodies[:100], batch_size=SPACY_BATCH_SIZE))
    started = time.perf_counter()
    for _ in nlp.pipe(bodies, batch_size=SPACY_BATCH_SIZE):
        pass
    return len(bodies) / (time.perf_counter() - started)


def bench_redaction_throughput(spark: SparkSession, texts: int = 2000, work_dir: Path | None = None
                               ) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(dir=work_dir) as scratch:
        bodies, labels = labelled_ticket_bodies(Path(scratch), texts)
    parallelism = spark.sparkContext.defaultParallelism
    data = spark.createDataFrame(list(enumerate(bodies)), "id long, body string").repartition(parallelism, "id")
    data = data.cache()
    data.count()
    redacted_frame = redact_columns(data, ["body"])
    consume(redacted_frame)  # warm: every worker has its engine
    started = time.perf_counter()
    consume(redacted_frame)
    seconds = time.perf_counter() - started
    redacted = [row["body"] for row in redacted_frame.orderBy("id").collect()]
    data.unpersist()
    recall = leak_recall(labels, redacted)
    with whole_texts_to_ner():  # the baseline: the NER reads every text whole (no pre-check)
        whole_text_recall = leak_recall(labels, redact_texts(bodies))
    spacy_speed = spacy_pipe_texts_per_s(bodies)
    return {
        "texts": len(bodies), "parallelism": parallelism, "seconds": seconds,
        "spacy_pipe_texts_per_s": spacy_speed,
        "vs_spacy_pipe": len(bodies) / seconds / parallelism / spacy_speed,
        "mean_chars": sum(map(len, bodies)) / max(len(bodies), 1),
        "texts_per_s": len(bodies) / seconds, "texts_per_s_per_core": len(bodies) / seconds / parallelism,
        "recall": recall, "recall_whole_texts_to_ner": whole_text_recall,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=2000)
    args = parser.parse_args(argv)
    from jobs.runtime import build_local_spark

    spark = build_local_spark(app_name="lakehouse-redaction-bench")
    try:
        print(json.dumps(bench_redaction_throughput(spark, args.texts), indent=2))
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
