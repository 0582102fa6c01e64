"""PII discovery in string columns the contract does not protect (e.g. a new feed column).

`discover_pii` samples up to `sample_rows` non-blank values per column in ONE Spark job (a random
per-column top-k that Spark 3.5 limits inside each partition before the shuffle; on a large frame
whose row count is given, over a Bernoulli pre-sample of rows), analyses them on
the driver with the pattern recognizers only (no spaCy: cheap), and reports a column when the
fraction of sampled values holding an entity scored >= `min_score` reaches `min_fraction`.

`apply_discovery_policy` then acts on the findings:
- `fail`: raise `PiiDiscoveryError` naming the columns and entity types (never sample values);
- `quarantine_column`: drop the columns from the promoted data (the caller keeps the raw values in
  quarantine);
- `mask_and_alert`: redact the columns (a value that is one entity as a whole becomes the same keyed
  token the structured policies would give it) and return an alert record per column.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import Contract, DiscoveryPolicy
from jobs.pii.redaction import PATTERN_ENTITIES, find_pii_spans, redaction_struct
from jobs.pii.tokens import ENTITY_NORMALIZATION, protect_plan_literals, token_expr

PARTITION_COLUMNS = ("year", "month", "day")
SAMPLE_SEED = 20240101
ALERT_KIND = "pii_discovered"


class PiiDiscoveryError(RuntimeError):
    """PII found in unprotected columns under the `fail` policy."""

    def __init__(self, message: str, findings: list[PiiFinding]) -> None:
        super().__init__(message)
        self.findings = findings


@dataclass(frozen=True)
class PiiFinding:
    column: str
    entity_types: tuple[str, ...]
    fraction: float  # of the sampled non-blank values holding at least one entity
    sample_size: int


@dataclass(frozen=True)
class DiscoveryAction:
    column: str
    action: str  # "quarantine_column" | "mask_and_alert"
    finding: PiiFinding

    def alert(self, dataset: str | None = None) -> dict[str, Any]:
        """A JSON-ready alert record; holds no sample values."""
        return {"kind": ALERT_KIND, "severity": "warning", "dataset": dataset, "column": self.column,
                "action": self.action, **{k: v for k, v in asdict(self.finding).items() if k != "column"}}


def undeclared_string_columns(df: DataFrame, contract: Contract) -> list[str]:
    """String columns without a pii policy: new feed columns and declared non-PII columns alike.

    Lineage (`_run_id`, ...) and partition columns are skipped: the pipeline writes them itself.
    """
    protected = {spec.name for spec in contract.columns if spec.pii is not None}
    return [f.name for f in df.schema.fields
            if isinstance(f.dataType, T.StringType) and f.name not in protected
            and not f.name.startswith("_") and f.name not in PARTITION_COLUMNS]


OVERSAMPLE = 4  # rows drawn per wanted value when the row count is known (blank values are skipped)


def sample_column_values(df: DataFrame, columns: list[str], sample_rows: int,
                         seed: int = SAMPLE_SEED, row_count: int | None = None) -> dict[str, list[str]]:
    """Up to `sample_rows` random non-blank values of each column, collected in one Spark job.

    With `row_count` known and large, a Bernoulli sample of about `OVERSAMPLE * sample_rows` rows is
    drawn first and the per-column random top-k runs on it (not on every value of every column);
    a column left with fewer than `sample_rows` non-blank values there (a sparse column) is sampled
    again over all rows, so the result is still up to `sample_rows` random values per column.
    """
    if not columns or sample_rows <= 0:
        return {c: [] for c in columns}
    source = df.select(*columns)
    if row_count is not None and row_count > 2 * OVERSAMPLE * sample_rows:
        drawn = source.sample(withReplacement=False, fraction=OVERSAMPLE * sample_rows / row_count, seed=seed)
        samples = _top_k_values(drawn, columns, sample_rows, seed)
        sparse = [c for c in columns if len(samples[c]) < sample_rows]
        if sparse:
            samples.update(_top_k_values(source, sparse, sample_rows, seed))
        return samples
    return _top_k_values(source, columns, sample_rows, seed)


def _top_k_values(df: DataFrame, columns: list[str], sample_rows: int, seed: int) -> dict[str, list[str]]:
    pairs = df.select(F.explode(F.array(*[
        F.struct(F.lit(c).alias("column"), F.col(c).cast("string").alias("value")) for c in columns
    ])).alias("pair")).select("pair.column", "pair.value")
    pairs = pairs.where(F.col("value").isNotNull() & (F.trim(F.col("value")) != ""))
    ranked = pairs.withColumn("_r", F.rand(seed)).withColumn(
        "_n", F.row_number().over(Window.partitionBy("column").orderBy("_r")))
    samples: dict[str, list[str]] = {c: [] for c in columns}
    for row in ranked.where(F.col("_n") <= sample_rows).select("column", "value").collect():
        samples[row.column].append(row.value)
    return samples


def discover_pii(df: DataFrame, columns: list[str], policy: DiscoveryPolicy,
                 row_count: int | None = None) -> list[PiiFinding]:
    """Findings for the columns whose sampled values hold PII often enough (see module docstring).
    `row_count` (the rows of `df`, when the caller knows it) makes sampling a large frame cheap."""
    samples = sample_column_values(df, columns, policy.sample_rows, row_count=row_count)
    flat = [(column, value) for column, values in samples.items() for value in values]
    spans = find_pii_spans([value for _, value in flat], with_ner=False, entities=PATTERN_ENTITIES,
                           score_threshold=policy.min_score)
    hits: dict[str, int] = defaultdict(int)
    types: dict[str, set[str]] = defaultdict(set)
    for (column, _), found in zip(flat, spans, strict=True):
        if found:
            hits[column] += 1
            types[column].update(span.entity_type for span in found)
    findings = []
    for column in columns:
        size = len(samples[column])
        fraction = hits[column] / size if size else 0.0
        if size and fraction >= policy.min_fraction:
            findings.append(PiiFinding(column, tuple(sorted(types[column])), round(fraction, 4), size))
    return findings


def _token_by_entity(value: Column, entity: Column, key: bytes) -> Column:
    """Tokenize a whole-value entity with the normalisation its structured column would use."""
    token = token_expr(value, key, "text")
    for entity_type, normalization in ENTITY_NORMALIZATION.items():
        token = F.when(entity == entity_type, token_expr(value, key, normalization)).otherwise(token)
    return token


def mask_discovered_column(df: DataFrame, column: str, key: bytes, with_ner: bool = True) -> DataFrame:
    """Redact `column`; a value that is a single entity as a whole becomes its keyed token."""
    scratch = f"__pii_redacted_{column}"
    redacted = df.withColumn(scratch, redaction_struct(F.col(column), with_ner))
    whole = F.col(f"{scratch}.whole_entity")
    # A whole-value entity may have normalised to nothing (e.g. a phone without digits): redact it.
    token = F.coalesce(_token_by_entity(F.col(column), whole, key), F.concat(F.lit("<"), whole, F.lit(">")))
    value = F.when(whole.isNotNull(), token).otherwise(F.col(f"{scratch}.text"))
    return redacted.withColumn(column, value).drop(scratch)


def apply_discovery_policy(df: DataFrame, findings: list[PiiFinding], policy: DiscoveryPolicy, key: bytes,
                           *, dataset: str | None = None, mask_with_ner: bool = True
                           ) -> tuple[DataFrame, list[DiscoveryAction]]:
    """Act on findings per `policy.policy`; returns the data to promote and what was done."""
    if not findings:
        return df, []
    if policy.policy == "fail":
        described = "; ".join(f"{f.column} ({', '.join(f.entity_types)} in {f.fraction:.0%} of "
                              f"{f.sample_size} sampled values)" for f in findings)
        where = f" in dataset {dataset!r}" if dataset else ""
        raise PiiDiscoveryError(
            f"PII found in column(s) without a pii policy{where}: {described}. Declare a pii policy for "
            "them in the contract, or choose pii_discovery.policy quarantine_column / mask_and_alert.",
            findings)
    actions = [DiscoveryAction(f.column, policy.policy, f) for f in findings]
    if policy.policy == "quarantine_column":
        return df.drop(*[f.column for f in findings]), actions
    if policy.policy != "mask_and_alert":
        raise ValueError(f"unknown discovery policy {policy.policy!r}")
    protect_plan_literals(df.sparkSession)
    for finding in findings:
        df = mask_discovered_column(df, finding.column, key, with_ner=mask_with_ner)
    return df, actions


def discover_and_apply(df: DataFrame, contract: Contract, key: bytes, *, mask_with_ner: bool = True,
                       row_count: int | None = None) -> tuple[DataFrame, list[DiscoveryAction]]:
    """Scan every unprotected string column of `df` and apply the contract's discovery policy."""
    findings = discover_pii(df, undeclared_string_columns(df, contract), contract.discovery, row_count=row_count)
    return apply_discovery_policy(df, findings, contract.discovery, key, dataset=contract.name,
                                  mask_with_ner=mask_with_ner)
