"""Glue job: promote one dataset's bronze ingest date to silver.

bronze files → conform (type, standardise, reasons) → deduplicate (in the batch, then against
silver) → lineage → one Iceberg commit to the silver table (the affected partitions replaced) and one
to the quarantine table (the ingest date replaced); rows that cannot be promoted go to quarantine
with their reasons. Both commits are staged first (write-audit-publish): the audit checks that the
counts reconcile on what was written (bronze_rows == silver_rows + quarantined_rows + duplicate_rows)
and applies the quality gate's verdict; only then are they published. Silver is read at the snapshot
the run started from, and the commits are validated against it, so concurrent runs cannot lose rows.

`promote` is the list of the job's named steps, the phase clock around those that read or write data
(`phase_seconds` in the report); the shell around it is jobs/job_shell.py. docs/jobs.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.batch_cache import is_small_batch
from jobs.bronze import read_inspected
from jobs.bronze_accounting import (
    alert_unreadable_files,
    files_report,
    inspect_bronze,
    record_counts,
    record_refusal_samples,
    refuse_unreadable_files,
    unreadable,
)
from jobs.bronze_decode import BYTE_OFFSET, SOURCE_ROW
from jobs.bronze_files import BronzeFile
from jobs.contracts import Contract, load_contract
from jobs.environment import environment_of
from jobs.job_context import COMMON_OPTIONAL_ARGS, JobContext
from jobs.job_shell import glue_main, run_job
from jobs.phase_clock import PhaseClock
from jobs.run_history import previous_promoted_rows
from jobs.silver.conform import (
    EXTRA_COLUMNS,
    REASONS,
    RECORD_KEY,
    conform,
    kept_extra_columns,
    with_kept_columns,
)
from jobs.silver.dedupe import PARTITION_COLUMNS, merge_partition_content
from jobs.silver.split import BatchSplit, SilverAsRead, add_unreadable_files, split_batch
from jobs.tables import (
    LakeCatalog,
    StagedWrite,
    current_snapshot,
    ensure_table,
    lake_catalog,
    partition_predicate,
    read_if_exists,
    stage_overwrite,
)
from jobs.wap import publish_all, refuse_if_failed

if TYPE_CHECKING:
    from jobs.pii.keys import PiiKey
    from jobs.quality.gate import GateResult

JOB_NAME = "bronze_to_silver"
REQUIRED_ARGS = ["dataset", "run_date"]
LINEAGE_COLUMNS = ("_run_id", "_source_file", "_ingest_date", "_processed_at")


class ReconciliationError(RuntimeError):
    pass


@dataclass
class Reconciliation:
    """Counts what the run wrote (not what it meant to write) and checks
    bronze_rows == silver_rows + quarantined_rows + duplicate_rows before anything is published."""

    spark: SparkSession
    dataset: str
    ctx: JobContext
    bronze_rows: int
    quarantined: int
    processed_at: datetime

    def _fail(self, detail: str) -> None:
        raise ReconciliationError(f"dataset {self.dataset} ingest {self.ctx.run_date}: {detail}; nothing was published")

    def check_quarantine(self, staged: StagedWrite) -> None:
        """The staged quarantine snapshot holds exactly this run's quarantined rows for the ingest date."""
        written = staged.rows(self.spark).where(F.col("ingest_date") == F.lit(self.ctx.run_date)).count()
        if written != self.quarantined:
            self._fail(f"{written} rows written to quarantine, {self.quarantined} expected")

    def check_silver(self, staged: StagedWrite, partitions: list[tuple[str, str, str]], silver_rows: int,
                     duplicate_rows: int) -> None:
        """Count this run's rows in the staged silver snapshot (only the partitions it replaced are read)."""
        this_run = F.col("_processed_at") == F.lit(self.processed_at).cast("timestamp")
        written = 0 if not partitions else (
            staged.rows(self.spark).where(partition_predicate(PARTITION_COLUMNS, partitions)).where(this_run).count())
        if written != silver_rows or self.bronze_rows != written + self.quarantined + duplicate_rows:
            self._fail(f"bronze {self.bronze_rows} != silver written {written} + quarantined {self.quarantined}"
                       f" + duplicates {duplicate_rows}")


class SchemaDriftError(RuntimeError):
    pass


def pii_key(args: dict[str, Any]) -> PiiKey:
    from jobs.pii.keys import load_pii_key

    return load_pii_key(args.get("pii_key_secret_arn") or args.get("pii_key_secret_id"),
                        on_aws=environment_of(args).in_glue)


def protect_structured(df: DataFrame, contract: Contract, key: PiiKey) -> DataFrame:
    """The contract's structured PII policies (tokenize/mask/generalize/drop), native Spark expressions.

    Applied to the whole batch before it is persisted (rejected rows keep their raw text for
    quarantine; their typed values are not used), so the quality gate and the write read protected
    values from the cache instead of hashing and masking again on each pass.
    """
    from jobs.pii.policies import apply_column_policies

    return apply_column_policies(df, contract, key.material)


def protect_free_text(winners: DataFrame, contract: Contract, key: PiiKey,
                      row_count: int | None = None) -> tuple[DataFrame, dict[str, Any]]:
    """Presidio on the rows about to be promoted: `redact` columns, and string columns without a
    policy that are sampled for PII and handled by the contract's discovery policy.

    Returns the data and the PII report.
    """
    from jobs.pii.discovery import discover_and_apply
    from jobs.pii.policies import columns_with_action

    protected = winners
    redacted = columns_with_action(contract, "redact")
    if redacted:
        from jobs.pii.redaction import redact_columns

        protected = redact_columns(protected, redacted)
    protected, actions = discover_and_apply(protected, contract, key.material, row_count=row_count)
    report = {
        "key_id": key.key_id,
        "policies": {c.name: c.pii.action for c in contract.columns if c.pii is not None},
        "discovery": [action.alert(contract.name) for action in actions],
    }
    return protected, report


def runs_presidio(contract: Contract, pii_report: dict[str, Any]) -> bool:
    """Whether the promoted rows go through Presidio (a Python UDF per row): `redact` columns, or a
    column masked because discovery found PII in it."""
    from jobs.pii.policies import columns_with_action

    return bool(columns_with_action(contract, "redact")) or any(
        alert.get("action") == "mask_and_alert" for alert in pii_report["discovery"])


def add_lineage(df: DataFrame, ctx: JobContext, processed_at: datetime) -> DataFrame:
    return df.select(
        "*",
        F.lit(ctx.run_id).alias("_run_id"),
        F.lit(ctx.run_date).alias("_ingest_date"),
        F.lit(processed_at).cast("timestamp").alias("_processed_at"),
    )


def silver_columns(contract: Contract, kept: list[str], data: DataFrame) -> list[str]:
    """Contract columns in contract order (minus those a PII policy dropped), kept new columns, lineage."""
    present = set(data.columns)
    return [c for c in [*contract.column_names, *kept] if c in present] + [*LINEAGE_COLUMNS, *PARTITION_COLUMNS]


def quarantine_rows(rejected: DataFrame, contract: Contract, ctx: JobContext,
                    processed_at: datetime) -> DataFrame:
    """The quarantine table's shape: enough to find, understand and replay each record."""
    return rejected.select(
        F.lit(contract.name).alias("dataset"),
        F.lit(ctx.run_date).alias("ingest_date"),
        F.col("_source_file").alias("source_file"),
        F.coalesce(RECORD_KEY, F.lit("")).alias("record_key"),
        F.col(REASONS)[0].alias("reason"),
        F.col(REASONS).alias("reasons"),
        F.col("_raw_record").alias("raw_record"),
        F.lit(ctx.run_id).alias("run_id"),
        F.lit(processed_at).cast("timestamp").alias("quarantined_at"),
        *location_columns(rejected),
    )


def location_columns(rows: DataFrame) -> list[Column]:
    """Where in its file a quarantined row was: `source_row` (the line a record starts on, or a JSON
    array element's position) and `byte_offset` (of a byte that does not decode). Known for files read
    by the decoded route; null for the fast path and for the quality gate's rows."""
    return [(F.col(source) if source in rows.columns else F.lit(None)).cast("long").alias(target)
            for source, target in ((SOURCE_ROW, "source_row"), (BYTE_OFFSET, "byte_offset"))]


def quality_gate(spark: SparkSession, candidates: DataFrame, contract: Contract, ctx: JobContext,
                 persist: bool, customers: DataFrame | None, small_batch: bool = False,
                 rows: int | None = None) -> GateResult:
    """Validate the rows about to be published with the dataset's silver suite.

    `quarantine` expectations route their rows; `warn` ones are recorded; `fail` ones are the gate's
    verdict, applied by the audit to the staged snapshot (see `audit_and_publish`): it is refused, main
    is left as it was, and the alert names suite, expectation, count, sample and the refused snapshot. Data Docs are
    built once per run by finalize_run. The candidates are normally a cheap projection (a filter,
    lineage literals) of the persisted batch, so Great Expectations' passes read that cache; `persist`
    them when they run Presidio per row (free text, discovered PII): each pass would run it again.
    """
    from jobs.quality import run_quality_gate

    context: dict[str, Any] = {}
    previous_rows = previous_promoted_rows(ctx.layout, contract.name, ctx.run_date)
    if previous_rows is not None:
        context["previous_row_count"] = previous_rows
    if contract.name != "customers" and customers is not None:
        context["known_customer_ids"] = customers.select("customer_id")
    return run_quality_gate(spark, candidates, suite=contract.quality_suite or contract.name, layer="silver",
                            contract=contract, run_date=ctx.run_date.isoformat(), run_id=ctx.run_id,
                            ops_root=ctx.layout.ops, context=context, build_docs=False, persist=persist,
                            small_batch=small_batch, rows=rows)


def gate_quarantine_rows(quarantined: DataFrame, contract: Contract, ctx: JobContext,
                         processed_at: datetime) -> DataFrame:
    """Rows an expectation routed, in the quarantine table's shape (their values already PII-protected)."""
    data_columns = [c for c in quarantined.columns if not c.startswith("_quarantine")]
    return quarantined.select(
        F.lit(contract.name).alias("dataset"),
        F.lit(ctx.run_date).alias("ingest_date"),
        F.col("_source_file").alias("source_file"),
        F.concat_ws("|", *[F.col(k).cast("string") for k in contract.key]).alias("record_key"),
        F.col("_quarantine_reason").alias("reason"),
        F.col("_quarantine_reasons").alias("reasons"),
        F.to_json(F.struct(*data_columns)).alias("raw_record"),
        F.lit(ctx.run_id).alias("run_id"),
        F.lit(processed_at).cast("timestamp").alias("quarantined_at"),
        *location_columns(quarantined),
    )


def refuse_new_columns(conformed: DataFrame, contract: Contract) -> None:
    """Drift policy `fail`: stop before anything is published, naming files and columns."""
    found = (conformed.where(F.size(EXTRA_COLUMNS) > 0)
             .select("_source_file", F.explode(EXTRA_COLUMNS).alias("column"))
             .distinct().limit(20).collect())
    if found:
        listing = ", ".join(f"{row['column']} in {row['_source_file']}" for row in found)
        raise SchemaDriftError(
            f"dataset {contract.name}: columns not in the contract ({contract.source}) and the drift "
            f"policy is 'fail': {listing}. Add them to the contract or set drift.new_columns.")


SILVER_DESCRIPTION = "silver {name}: typed, deduplicated, PII-protected (lakehouse bronze_to_silver)"
QUARANTINE_DESCRIPTION = "quarantine {name}: bronze records that could not be promoted, with reasons"


@dataclass
class StagedRun:
    """The run's two staged snapshots, written but not yet visible on main."""

    silver: StagedWrite
    quarantine: StagedWrite


def stage_run(spark: SparkSession, catalog: LakeCatalog, contract: Contract, ctx: JobContext,
              silver: SilverAsRead, content: DataFrame, partitions: list[tuple[str, str, str]],
              quarantine: DataFrame) -> StagedRun:
    """Stage one snapshot per table: silver with exactly `partitions` replaced by `content`, quarantine
    with the ingest date replaced (re-running a date replaces its quarantine, never doubles it)."""
    quarantine_table = catalog.table("quarantine", contract.name)
    ensure_table(spark, silver.table, content.schema, PARTITION_COLUMNS,
                 SILVER_DESCRIPTION.format(name=contract.name))
    ensure_table(spark, quarantine_table, quarantine.schema, ("ingest_date",),
                 QUARANTINE_DESCRIPTION.format(name=contract.name))
    quarantine_read = current_snapshot(spark, quarantine_table)
    staged_quarantine = stage_overwrite(spark, quarantine_table, quarantine,
                                        F.col("ingest_date") == F.lit(ctx.run_date), run_id=ctx.run_id,
                                        job=JOB_NAME, read_snapshot=quarantine_read)
    staged_silver = stage_overwrite(spark, silver.table, content, partition_predicate(PARTITION_COLUMNS, partitions),
                                    run_id=ctx.run_id, job=JOB_NAME, read_snapshot=silver.snapshot)
    return StagedRun(staged_silver, staged_quarantine)


def report_name(args: dict[str, Any]) -> str:
    """One report per dataset: `bronze_to_silver-<dataset>.json`."""
    return f"{JOB_NAME}-{args['dataset']}"


def run(spark: SparkSession, args: dict[str, Any]) -> dict[str, Any]:
    """Promote one ingest date; a run that loses a commit race to another run of the same tables is
    run again on the new snapshot (`jobs.wap.retry_on_conflict`). Returns the job report."""
    return run_job(JOB_NAME, args, lambda ctx: promote(spark, ctx, args), retry_on_conflict=True,
                   report_name=report_name)


def promote(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
    """Promote one ingest date (see the module docstring): the batch prepared, gated, then published.
    Returns the report's own fields; `phase_seconds` times each step that reads or writes data."""
    clock = PhaseClock()
    batch = prepare_batch(spark, ctx, args, clock)
    try:
        with clock.phase("quality_gate"):
            gate = gate_candidates(spark, batch)
        return publish_batch(spark, batch, gate, clock)
    finally:
        batch.release()


@dataclass(frozen=True)
class Promotion:
    """What one run promotes into, fixed when it starts: the dataset's contract, the tables, the silver
    snapshot every read goes through, known customers (for the gate) and the run's timestamp."""

    ctx: JobContext
    args: dict[str, Any]
    contract: Contract
    catalog: LakeCatalog
    silver: SilverAsRead
    customers: DataFrame | None
    processed_at: datetime


@dataclass
class BronzeRead:
    """Every object of the ingest folder with its outcome (read, empty, skipped, quarantined whole),
    and the records of the files that were read."""

    entries: list[BronzeFile]
    records: DataFrame


@dataclass
class Conformed:
    """The typed batch with its reasons, and the new columns the drift policy keeps."""

    rows: DataFrame
    kept: list[str]


@dataclass
class PreparedBatch:
    """A batch ready for the quality gate: split, PII-protected, in silver's shape (`candidates`).
    Holds the split's cached frames until `release`."""

    run: Promotion
    entries: list[BronzeFile]
    kept: list[str]
    split: BatchSplit
    refusals: list[str]
    candidates: DataFrame
    pii_report: dict[str, Any]

    def release(self) -> None:
        self.split.release()


@dataclass
class Tally:
    """Where every bronze row went, with the quality gate's routing included."""

    bronze_rows: int
    silver_rows: int
    quarantined_rows: int
    duplicate_rows: int
    quarantined_by_reason: dict[str | None, int]
    gate_quarantined: int


def start_promotion(spark: SparkSession, ctx: JobContext, args: dict[str, Any]) -> Promotion:
    """Load the contract and read the current snapshots the run works from."""
    contract = load_contract(str(args["dataset"]))
    catalog = lake_catalog(spark, ctx.layout, args)
    silver_ref = catalog.table("silver", contract.name)
    silver = SilverAsRead(spark, silver_ref, current_snapshot(spark, silver_ref))
    customers = (read_if_exists(spark, catalog.table("silver", "customers"))
                 if contract.name != "customers" else None)
    return Promotion(ctx, args, contract, catalog, silver, customers, datetime.now(UTC).replace(tzinfo=None))


def read_ingest_folder(spark: SparkSession, run: Promotion) -> BronzeRead:
    """Every object of the date's folder gets an outcome; a file that cannot be read never fails the run
    unless the contract says so (jobs/bronze_accounting.py)."""
    entries = inspect_bronze(run.ctx.layout.bronze_ingest(run.contract.name, run.ctx.run_date), run.contract)
    records = read_inspected(spark, entries, run.contract)
    refuse_unreadable_files(entries, run.contract)
    return BronzeRead(entries, records)


def conform_bronze(records: DataFrame, contract: Contract) -> Conformed:
    """Type and check the records against the contract, then apply its drift policy for new columns:
    `keep` them, `fail` the run (before anything is published), or leave them out."""
    conformed = conform(records, contract)
    if contract.new_columns == "keep":
        kept = kept_extra_columns(conformed, contract)
        return Conformed(with_kept_columns(conformed, kept), kept)
    if contract.new_columns == "fail":
        refuse_new_columns(conformed, contract)
    return Conformed(conformed, [])


def is_small_read(entries: list[BronzeFile]) -> bool:
    """Whether the files read make a small batch (checkpointed, not persisted: jobs/batch_cache.py)."""
    return is_small_batch(sum(e.size for e in entries if e.outcome == "read"))


def split_bronze(spark: SparkSession, run: Promotion, conformed: Conformed, entries: list[BronzeFile],
                 key: PiiKey) -> BatchSplit:
    """One pass over the bronze files: rejected and promotable rows from the same persisted batch (see
    `split_batch`), its structured PII protected; unreadable files join the rejected rows."""
    split = split_batch(spark, conformed.rows, run.contract, run.silver,
                        protect=lambda df: protect_structured(df, run.contract, key),
                        small_batch=is_small_read(entries))
    try:
        add_unreadable_files(spark, split, entries)
    except BaseException:
        split.release()
        raise
    return split


def refusal_samples(entries: list[BronzeFile], split: BatchSplit, contract: Contract) -> list[str]:
    """A few refused rows per file for the report and the log (no query when nothing was refused)."""
    if not split.quarantined_by_reason:
        return []
    return record_refusal_samples(entries, split.rejected, contract.name, REASONS, RECORD_KEY)


def silver_candidates(run: Promotion, split: BatchSplit, kept: list[str],
                      key: PiiKey) -> tuple[DataFrame, dict[str, Any]]:
    """The winners with their free text protected (Presidio) and lineage added, in silver's column
    order: the rows the quality gate validates. Returns them and the PII report."""
    protected, pii_report = protect_free_text(split.winners, run.contract, key, row_count=split.winner_rows)
    candidates = add_lineage(protected, run.ctx, run.processed_at).select(
        *silver_columns(run.contract, kept, protected))
    return candidates, pii_report


def prepare_batch(spark: SparkSession, ctx: JobContext, args: dict[str, Any], clock: PhaseClock) -> PreparedBatch:
    """Read, conform, split and protect the date's bronze: everything before the quality gate."""
    run = start_promotion(spark, ctx, args)
    with clock.phase("inspect"):
        bronze = read_ingest_folder(spark, run)
    conformed = conform_bronze(bronze.records, run.contract)
    key = pii_key(args)
    with clock.phase("split"):
        split = split_bronze(spark, run, conformed, bronze.entries, key)
    try:
        refusals = refusal_samples(bronze.entries, split, run.contract)
        with clock.phase("pii_discovery"):
            candidates, pii_report = silver_candidates(run, split, conformed.kept, key)
    except BaseException:
        split.release()
        raise
    return PreparedBatch(run, bronze.entries, conformed.kept, split, refusals, candidates, pii_report)


def gate_candidates(spark: SparkSession, batch: PreparedBatch) -> GateResult:
    """The dataset's silver suite on the candidates (see `quality_gate`), pinned the way the split
    pinned the batch (decided once, from the bronze read: `is_small_read`)."""
    return quality_gate(spark, batch.candidates, batch.run.contract, batch.run.ctx,
                        persist=runs_presidio(batch.run.contract, batch.pii_report), customers=batch.run.customers,
                        small_batch=batch.split.pinned.small_batch, rows=batch.split.winner_rows)


def tally_rows(batch: PreparedBatch, gate: GateResult) -> Tally:
    """Count where the rows went, and record the counts per bronze file on the batch's entries."""
    split = batch.split
    quality = gate.summary
    gate_quarantined = int(quality.get("quarantined_rows", 0))
    gate_by_file = {row["_source_file"]: row["rows"] for row in gate.quarantined.groupBy("_source_file").agg(
        F.count(F.lit(1)).alias("rows")).collect()} if gate_quarantined else {}
    record_counts(batch.entries, split.read_by_file, split.rejected_by_file, split.duplicates_by_file, gate_by_file)
    by_reason = dict(sorted(split.quarantined_by_reason.items()))
    split_quarantined = sum(by_reason.values())
    for reason, count in quality.get("quarantined_by_reason", {}).items():
        by_reason[reason] = by_reason.get(reason, 0) + count
    return Tally(bronze_rows=split.valid_rows + split_quarantined,
                 silver_rows=split.winner_rows - gate_quarantined,
                 quarantined_rows=split_quarantined + gate_quarantined,
                 duplicate_rows=split.in_batch_duplicates + split.superseded,
                 quarantined_by_reason=dict(sorted(by_reason.items())),
                 gate_quarantined=gate_quarantined)


def write_silver(spark: SparkSession, batch: PreparedBatch, gate: GateResult, tally: Tally) -> dict[str, Any]:
    """Stage silver (the affected partitions replaced) and quarantine (the ingest date replaced), audit
    what was written (the counts reconcile, the gate's verdict), then publish both. Returns the
    tables' snapshots."""
    run, split = batch.run, batch.split
    contract, ctx = run.contract, run.ctx
    parts = split.partitions
    content = gate.valid
    existing_rows = run.silver.partitions(parts) if parts else None
    if existing_rows is not None:
        content = merge_partition_content(existing_rows, gate.valid, split.replaced_keys, contract.key)
    quarantine = quarantine_rows(split.rejected, contract, ctx, run.processed_at)
    if tally.gate_quarantined:
        quarantine = quarantine.unionByName(gate_quarantine_rows(gate.quarantined, contract, ctx, run.processed_at))
    staged = stage_run(spark, run.catalog, contract, ctx, run.silver, content, parts, quarantine.coalesce(1))
    # The audit: reconcile on what was actually written, then the gate's verdict; only then publish.
    written = Reconciliation(spark, contract.name, ctx, tally.bronze_rows, tally.quarantined_rows, run.processed_at)
    written.check_quarantine(staged.quarantine)
    written.check_silver(staged.silver, parts, tally.silver_rows, tally.duplicate_rows)
    refuse_if_failed(gate, staged.silver)
    return publish_all(spark, [staged.silver, staged.quarantine])


def publish_batch(spark: SparkSession, batch: PreparedBatch, gate: GateResult, clock: PhaseClock) -> dict[str, Any]:
    """Count, write and publish the gated batch (releasing the gate's cache); the report's own fields."""
    try:
        tally = tally_rows(batch, gate)
        with clock.phase("write"):
            snapshots = write_silver(spark, batch, gate, tally)
    finally:
        gate.release()
    return promotion_report(batch, gate.summary, tally, snapshots, clock)


def promotion_report(batch: PreparedBatch, quality: dict[str, Any], tally: Tally, snapshots: dict[str, Any],
                     clock: PhaseClock) -> dict[str, Any]:
    """The report's own fields (the shell adds job, run id and date); sends the unreadable-file alert."""
    run, split, entries = batch.run, batch.split, batch.entries
    ctx, contract = run.ctx, run.contract
    return {
        "dataset": contract.name,
        "bronze_files": [e.path for e in entries if e.outcome == "read"],
        # Every object of the ingest folder and what became of it; an unreadable file is one quarantined
        # bronze record (reason unreadable_file:<why>), so the row reconciliation still holds.
        "files": [e.report() for e in entries],
        "files_summary": files_report(entries),
        "quarantined_files": [e.path for e in unreadable(entries)],
        "refusals_sample": batch.refusals,  # a few refused rows per file: dataset, file, row/byte, key, reasons
        "alerts": alert_unreadable_files(entries, contract, run.args, ctx.layout.alerts(), ctx.run_id,
                                         ctx.run_date.isoformat()),
        "bronze_rows": tally.bronze_rows,
        "silver_rows": tally.silver_rows,
        "quarantined_rows": tally.quarantined_rows,
        "duplicate_rows": tally.duplicate_rows,
        "duplicates_in_batch": split.in_batch_duplicates,
        "duplicates_superseded_by_silver": split.superseded,
        "quarantined_by_reason": tally.quarantined_by_reason,
        "kept_new_columns": batch.kept,
        "pii": batch.pii_report,
        "quality": quality,
        "silver_table": run.silver.table.location,
        "partitions_published": [f"year={y}/month={m}/day={d}" for y, m, d in split.partitions],
        "quarantine_path": (run.catalog.table("quarantine", contract.name).location
                            if tally.quarantined_rows else None),
        "reconciled": True,
        "tables": snapshots,
        "phase_seconds": clock.seconds(),
    }


OPTIONAL_ARGS = {**COMMON_OPTIONAL_ARGS, "pii_key_secret_arn": None, "pii_key_secret_id": None,
                 "alert_topic_arn": None}

main = glue_main(run, REQUIRED_ARGS, OPTIONAL_ARGS)

if __name__ == "__main__":
    main()
