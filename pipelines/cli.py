"""The `lakehouse` command: generate data, run and backfill pipelines locally, and inspect runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from jobs.job_context import parse_date
from jobs.lake import DEFAULT_LAKE_ROOT, LakeLayout


def _date(value: str) -> date:
    try:
        return parse_date(value, "date")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_lake_root(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lake-root", type=Path, default=Path(DEFAULT_LAKE_ROOT),
                        help="local lake folder (default: ./lake)")


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.synthetic import generate

    report = generate(args.lake_root, args.start, args.days, args.rows_per_day, seed=args.seed, dirty=args.dirty,
                      drift_from=args.drift_from)
    print(report.render() if hasattr(report, "render") else report)
    return 0


def cmd_drift(args: argparse.Namespace) -> int:
    from pipelines.drift_view import NoDriftMeasuredError, drift_json, drift_lines, drift_rows

    try:
        rows = drift_rows(args.lake_root, args.date, args.source)
    except NoDriftMeasuredError as missing:
        print(f"error: {missing}", file=sys.stderr)
        return 2
    print(drift_json(args.date, rows) if args.json else "\n".join(drift_lines(args.lake_root, args.date, rows,
                                                                               args.source)))
    return 0


def _print_run(run) -> None:
    from pipelines.summary import manifest_lines, run_heading

    if run.manifest:
        print("\n".join(manifest_lines(run.manifest)))
        print(f"  manifest: {run.manifest_path}")
    else:
        print(run_heading(run.pipeline, run.run_date, run.run_id, run.status))
    if run.status != "SUCCEEDED":
        print(f"FAILED: {run.error_message}", file=sys.stderr)
        for alert in run.alerts:
            print(f"  alert written: {alert}", file=sys.stderr)


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.local_run import local_pipelines

    with local_pipelines(args.lake_root) as pipelines:
        run = pipelines.run(args.pipeline, args.date)
    _print_run(run)
    return 0 if run.status == "SUCCEEDED" else 1


def dates_between(start: date, end: date) -> list[date]:
    if end < start:
        raise SystemExit(f"--end {end} is before --start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def cmd_backfill(args: argparse.Namespace) -> int:
    from pipelines.backfill import AwsTarget, LocalTarget, backfill

    if args.target == "aws":
        target: AwsTarget | LocalTarget = AwsTarget(
            args.state_machine or f"lakehouse-{args.stage}-{args.pipeline}", region=args.region,
            endpoint_url=args.endpoint_url, poll_seconds=args.poll_seconds)
    else:
        target = LocalTarget(args.lake_root)
    return backfill(args.pipeline, args.lake_root, dates_between(args.start, args.end), force=args.force,
                    dry_run=args.dry_run, parallel=args.parallel, resume=args.resume, target=target)


def cmd_validate(args: argparse.Namespace) -> int:
    from pipelines.registry import PIPELINES
    from pipelines.validate import report, validate_pipelines

    unknown = sorted(set(args.pipeline) - set(PIPELINES))
    if unknown:
        raise SystemExit(f"unknown pipeline(s) {', '.join(unknown)}; registered: {', '.join(sorted(PIPELINES))}")
    pipelines = {name: PIPELINES[name] for name in (args.pipeline or sorted(PIPELINES))}
    problems = validate_pipelines(pipelines)
    print(report(problems, len(pipelines)), file=sys.stderr if problems else sys.stdout)
    return 1 if problems else 0


def cmd_quality(args: argparse.Namespace) -> int:
    from jobs.quality import quality_table
    from pipelines.summary import quarantined_files_lines

    print(quality_table(args.lake_root, args.date.isoformat()))
    print("\n".join(quarantined_files_lines(args.lake_root, args.date.isoformat())))
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from pipelines.summary import recent_manifests, status_table

    if args.metrics or args.plot:
        return _status_metrics(args)

    status = "FAILED" if args.failed else None
    manifests = recent_manifests(args.lake_root, args.limit, args.pipeline, status)
    if not manifests:
        which = " ".join(filter(None, [status and "failed", args.pipeline])) or "recorded"
        print(f"no {which} runs under {LakeLayout.from_root(str(args.lake_root)).manifests_root()}")
        return 0
    print(status_table(manifests))
    return 0


def _status_metrics(args: argparse.Namespace) -> int:
    from pipelines import health

    ops = LakeLayout.from_root(str(args.lake_root)).ops
    runs = health.load(ops, args.pipeline, args.limit)
    if not runs:
        print(f"no run metrics under {ops}/metrics (each run's finalize step writes them)")
        return 0
    print(health.table(runs))
    if args.plot:
        print(f"chart: {health.plot(runs, args.plot)}")
    return 0


def _open_tables(args: argparse.Namespace):  # -> LakeTables
    from pipelines.lake_tables import open_lake

    return open_lake(args.lake_root, args.target, args.glue_database, args.region)


def cmd_history(args: argparse.Namespace) -> int:
    from pipelines.lake_tables import history, history_lines

    try:
        lake = _open_tables(args)
        for name in [args.table] if args.table else lake.names():
            rows = history(lake.load(name))
            print("\n".join(history_lines(name, rows[-args.limit:] if args.limit else rows)))
    except LookupError as missing:
        print(f"history: {missing}", file=sys.stderr)
        return 2
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    import json

    from pipelines.describe_table import describe, describe_lines

    try:
        lake = _open_tables(args)
        infos = [describe(name, lake.load(name)) for name in ([args.table] if args.table else lake.names())]
    except LookupError as missing:
        print(f"describe: {missing}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(infos[0] if args.table else infos, indent=2, default=str))
    else:
        print("\n\n".join("\n".join(describe_lines(info)) for info in infos))
    return 0


def cmd_maintain(args: argparse.Namespace) -> int:
    """Locally: the maintenance job in a local Spark session, then its manifest (as the state machine
    does); `--target aws`: one execution of the deployed maintenance state machine."""
    if args.target == "aws":
        from pipelines.backfill import AwsTarget, backfill

        if args.now or args.table or args.json:
            raise SystemExit("--now, --table and --json are for a local run; on AWS the state machine runs the job "
                             "with its defaults (see docs/tables.md, Maintenance)")
        target = AwsTarget(args.state_machine or f"lakehouse-{args.stage}-maintenance", region=args.region,
                           endpoint_url=args.endpoint_url)
        return backfill("maintenance", args.lake_root, [args.date], force=True, dry_run=args.dry_run,
                        target=target)
    import json

    from jobs import finalize_run, maintain_tables
    from jobs.runtime import build_local_spark

    started = datetime.now(UTC)
    run_id = f"maintenance-{args.date}-{started:%H%M%S}"
    job_args = {"run_date": args.date.isoformat(), "run_id": run_id, "pipeline": "maintenance",
                "started_at": started.isoformat(),
                "lake_root": str(args.lake_root), "now": args.now, "dry_run": str(args.dry_run).lower(),
                "tables": ",".join(args.table or []) or None, "snapshot_days": args.snapshot_days,
                "min_snapshots": args.min_snapshots, "orphan_grace_hours": args.orphan_grace_hours}
    spark = build_local_spark(app_name="lakehouse-maintain")
    try:
        report = maintain_tables.run(spark, job_args)
    except (maintain_tables.MaintenanceError, ValueError) as failed:
        if not args.dry_run:
            finalize_run.run(None, {**job_args, "status": "FAILED", "error": type(failed).__name__,
                                    "cause": str(failed)})
        print(f"maintain: {failed}", file=sys.stderr)
        return 1
    if not args.dry_run:
        report["manifest"] = finalize_run.run(None, {**job_args, "status": "SUCCEEDED"})["manifest_path"]
    print(json.dumps(report, indent=2, default=str) if args.json else "\n".join(maintain_tables.report_lines(report)))
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    from pipelines.lake_tables import RollbackRefused, plan_rollback, rollback, run_manifest

    layout = LakeLayout.from_root(str(args.lake_root))
    if args.ops_root:
        layout = LakeLayout(**{**layout.__dict__, "ops": args.ops_root})
    try:
        manifest = run_manifest(layout, args.run)
        lake = _open_tables(args)
        if args.dry_run:
            for step in plan_rollback(lake, manifest):
                print(f"would roll back {step.table}: snapshot {step.snapshot_after} -> {step.snapshot_before}")
            return 0
        done = rollback(lake, manifest, on_table=lambda step: print(
            f"rolled back {step.table}: snapshot {step.snapshot_after} -> "
            f"{step.snapshot_before if step.snapshot_before is not None else '(emptied: the run created it)'}"))
    except (RollbackRefused, LookupError) as refused:
        print(f"rollback refused: {refused}", file=sys.stderr)
        return 2
    if not done:
        print(f"run {args.run}: its tables are already at their snapshots before the run; nothing to do")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Tables of a lake written before they were Iceberg become Iceberg tables in place (jobs/migrate_tables.py)."""
    from jobs.migrate_tables import report_lines
    from jobs.migrate_tables import run as migrate
    from jobs.runtime import build_local_spark

    report = migrate(build_local_spark(app_name="lakehouse-migrate"),
                     {"lake_root": str(args.lake_root), "dry_run": args.dry_run})
    print("\n".join(report_lines(report)))
    return 2 if report["refused"] else 0


def _online_store(args: argparse.Namespace):  # -> OnlineStore
    from pipelines.online_features import store_for

    return store_for(args.lake_root, args.online_table, args.region, args.endpoint_url)


def cmd_features_get(args: argparse.Namespace) -> int:
    import json

    store = _online_store(args)
    record = store.get(args.customer_id)
    if record is None:
        print(f"features get: no online features for customer {args.customer_id} in {store.description} "
              "(unknown customer, not materialised yet, or expired)", file=sys.stderr)
        return 2
    print(json.dumps(record.as_json(), indent=2, sort_keys=True))
    return 0


def cmd_features_check(args: argparse.Namespace) -> int:
    from pipelines.online_features import check, gold_rows

    store = _online_store(args)
    try:
        rows = gold_rows(args.lake_root, args.date, args.target, args.glue_database, args.region)
    except LookupError as missing:
        print(f"features check: {missing}", file=sys.stderr)
        return 2
    if not rows:
        print(f"features check: gold customer_features has no rows as of {args.date}", file=sys.stderr)
        return 2
    result = check(store, rows, args.date, args.sample, args.seed)
    print("\n".join(result.lines(store.description)))
    return 1 if result.mismatches else 0


def _add_table_target(parser: argparse.ArgumentParser) -> None:
    _add_lake_root(parser)
    parser.add_argument("--target", choices=("local", "aws"), default="local",
                        help="the lake's embedded catalog (default) or the deployment's Glue Data Catalog")
    parser.add_argument("--glue-database", help="aws: the Glue database holding the tables")
    parser.add_argument("--region", help="aws: region (default: the AWS configuration's)")


def cmd_lineage(args: argparse.Namespace) -> int:
    from pipelines.lineage_graph import lineage_lines

    try:
        print("\n".join(lineage_lines(args.lake_root, args.name)))
    except LookupError as missing:
        print(f"lineage: {missing}", file=sys.stderr)
        return 2
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """`make run`: generate a few dirty days, run ingestion over them, show what each layer holds."""
    from jobs.online.stores import sqlite_path
    from pipelines.backfill import backfill
    from pipelines.summary import layer_summary
    from pipelines.synthetic import generate

    start = args.start
    print(f"== generating {args.days} days of bronze data ({args.rows_per_day:,} transactions/day, dirty) ==")
    report = generate(args.lake_root, start, args.days, args.rows_per_day, seed=args.seed, dirty=True,
                      drift_from=args.drift_from)
    print(report.render() if hasattr(report, "render") else report)
    print("\n== ingestion: bronze → silver → gold, through state_machines/ingestion.asl.json ==")
    last_day = start + timedelta(days=args.days - 1)
    code = backfill("ingestion", args.lake_root, dates_between(start, last_day), force=True)
    if code == 0 and not args.skip_models:
        code = _demo_models(args.lake_root, last_day)
    print("\n== what the lake holds ==")
    print("\n".join(layer_summary(args.lake_root)))
    layout = LakeLayout.from_root(str(args.lake_root))
    print(f"\nRun manifests: {layout.manifests_root()}   alerts: {layout.alerts()}")
    print(f"Online store:  {sqlite_path(layout.ops)}   "
          f"lakehouse features get --customer-id ID --lake-root {args.lake_root}")
    print(f"Recent runs:   lakehouse status --lake-root {args.lake_root}")
    print(f"Health trend:  lakehouse status --lake-root {args.lake_root} --metrics --plot health.png")
    print(f"Lineage:       {layout.lineage_root()}   lakehouse lineage fraud_model --lake-root {args.lake_root}")
    return code


def _demo_models(lake_root: Path, run_date: date) -> int:
    """Train (and deploy, if it earns it) on the demo lake, then score the last day."""
    from pipelines.local_run import DEMO_TRAINING_INPUT, run_model_pipelines
    from pipelines.summary import model_run_lines, run_heading

    print(f"\n== training then batch inference as of {run_date}, through state_machines/training.asl.json and "
          "batch_inference.asl.json (SageMaker script mode and transform run locally) ==")
    runs = run_model_pipelines(lake_root, run_date, DEMO_TRAINING_INPUT)
    for run in runs:
        print(run_heading(run.pipeline, run.run_date, run.run_id, run.status,
                          (run.manifest or {}).get("duration_seconds")))
        print("\n".join(model_run_lines(lake_root, run.pipeline, run.run_id, run.run_date.isoformat())))
        if run.status != "SUCCEEDED":
            print(f"FAILED: {run.error_message}", file=sys.stderr)
    return 0 if runs and all(run.status == "SUCCEEDED" for run in runs) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lakehouse", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write synthetic bronze data")
    _add_lake_root(gen)
    gen.add_argument("--start", type=_date, required=True)
    gen.add_argument("--days", type=int, required=True)
    gen.add_argument("--rows-per-day", type=int, required=True)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--dirty", action="store_true", help="add the flaws real feeds have")
    gen.add_argument("--drift-from", type=_date, metavar="YYYY-MM-DD",
                     help="from this date on, shift transaction amounts and channel mix (feature drift)")
    gen.set_defaults(func=cmd_generate)

    drift = sub.add_parser("drift", help="a date's feature drift against the deployed model's training baseline")
    _add_lake_root(drift)
    drift.add_argument("--date", type=_date, required=True)
    drift.add_argument("--json", action="store_true",
                       help='one object: {"date": D, "features": {NAME: {"psi": x, "verdict": v}}}')
    drift.add_argument("--source", default="batch_inference", help="what was measured (default batch_inference)")
    drift.set_defaults(func=cmd_drift)

    run = sub.add_parser("run", help="run a pipeline for one date through its state machine (locally)")
    run.add_argument("pipeline", choices=_pipelines())
    _add_lake_root(run)
    run.add_argument("--date", type=_date, required=True)
    run.set_defaults(func=cmd_run)

    back = sub.add_parser("backfill", help="run a pipeline over a date range, skipping dates already succeeded")
    back.add_argument("pipeline", choices=_pipelines())
    _add_lake_root(back)
    back.add_argument("--start", type=_date, required=True)
    back.add_argument("--end", type=_date, required=True)
    back.add_argument("--force", action="store_true", help="re-run dates that already succeeded")
    back.add_argument("--resume", action="store_true",
                      help="continue an interrupted backfill: succeeded dates are skipped (always, unless "
                           "--force), and on AWS a date's still-running execution is waited for")
    back.add_argument("--dry-run", action="store_true", help="print what would run and stop")
    back.add_argument("--parallel", type=int, default=1, metavar="N",
                      help="dates at once, for pipelines whose dates are independent (default 1)")
    back.add_argument("--target", choices=("local", "aws"), default="local",
                      help="local engine (default) or real executions of the deployed state machine via boto3")
    back.add_argument("--state-machine", help="aws: name or ARN (default lakehouse-<stage>-<pipeline>)")
    back.add_argument("--stage", default="dev", help="aws: stage of the default state machine name")
    back.add_argument("--region", help="aws: region (default: the AWS configuration's)")
    back.add_argument("--endpoint-url", help="aws: Step Functions endpoint (e.g. a moto server)")
    back.add_argument("--poll-seconds", type=float, default=10.0, help="aws: how often to check an execution")
    back.set_defaults(func=cmd_backfill)

    validate = sub.add_parser("validate", help="check every state machine definition: statelint, moto's parser "
                                               "and the project rules; exits non-zero on any problem")
    validate.add_argument("pipeline", nargs="*", help=f"of {', '.join(_pipelines())} (default: all)")
    validate.set_defaults(func=cmd_validate)

    status = sub.add_parser("status", help="recent runs, one line each")
    _add_lake_root(status)
    status.add_argument("--limit", type=int, default=20)
    status.add_argument("--pipeline", choices=_pipelines(), help="only this pipeline's runs")
    status.add_argument("--failed", action="store_true", help="only the runs that failed")
    status.add_argument("--metrics", action="store_true",
                        help="the pipeline-health trend from ops/metrics/ (rows in/out, quarantine, gates, duration)")
    status.add_argument("--plot", metavar="PATH", help="also write that trend as a PNG chart (implies --metrics)")
    status.set_defaults(func=cmd_status)

    quality = sub.add_parser("quality", help="quality-gate results of a run date, as a table")
    _add_lake_root(quality)
    quality.add_argument("--date", type=_date, required=True)
    quality.set_defaults(func=cmd_quality)

    hist = sub.add_parser("history", help="a table's snapshots: when, which run, what changed, which is current")
    hist.add_argument("table", nargs="?", help="layer.name, e.g. silver.transactions (default: every table)")
    _add_table_target(hist)
    hist.add_argument("--limit", type=int, default=0, help="only the newest N snapshots per table")
    hist.set_defaults(func=cmd_history)

    desc = sub.add_parser("describe", help="a table's schema and schema versions, partition spec, snapshots, "
                                           "data files and bytes (from its metadata; no data read)")
    desc.add_argument("table", nargs="?", help="layer.name, e.g. silver.transactions (default: every table)")
    _add_table_target(desc)
    desc.add_argument("--json", action="store_true", help="print it as JSON")
    desc.set_defaults(func=cmd_describe)

    lineage = sub.add_parser("lineage", help="the upstream chain of a model or table, from the OpenLineage events: "
                                             "model → training set snapshot → features → silver → bronze files")
    lineage.add_argument("name", help="a model (fraud_model) or a table (gold.customer_features)")
    _add_lake_root(lineage)
    lineage.set_defaults(func=cmd_lineage)

    maintain = sub.add_parser("maintain", help="every table: delete rows past retention, compact small files, "
                                               "expire old snapshots, remove orphan files")
    _add_table_target(maintain)
    maintain.add_argument("--date", type=_date, default=date.today(),
                          help="the run date rows' retention counts back from (default: today)")
    maintain.add_argument("--dry-run", action="store_true", help="say what would be done and change nothing")
    maintain.add_argument("--json", action="store_true", help="print the job's report as JSON")
    maintain.add_argument("--table", action="append", metavar="LAYER.NAME", help="only this table (repeatable)")
    maintain.add_argument("--now", help="the clock for snapshot and orphan ages (ISO 8601; default: now); "
                                        "for drills and tests")
    maintain.add_argument("--snapshot-days", type=int, help="override the layers' snapshot retention (days)")
    maintain.add_argument("--min-snapshots", type=int, help="override how many snapshots main keeps at least")
    maintain.add_argument("--orphan-grace-hours", type=float, help="override the orphan files' grace period")
    maintain.add_argument("--state-machine", help="aws: name or ARN (default lakehouse-<stage>-maintenance)")
    maintain.add_argument("--stage", default="dev", help="aws: stage of the default state machine name")
    maintain.add_argument("--endpoint-url", help="aws: Step Functions endpoint (e.g. a moto server)")
    maintain.set_defaults(func=cmd_maintain)

    back_out = sub.add_parser("rollback", help="put every table a run changed back to its snapshot before the run "
                                               "(all or none; refused if a later run committed on top)")
    back_out.add_argument("--run", required=True, metavar="RUN_ID", help="the run to undo (see `lakehouse status`)")
    _add_table_target(back_out)
    back_out.add_argument("--ops-root", help="aws: where the run manifests are (s3://<ops bucket>)")
    back_out.add_argument("--dry-run", action="store_true", help="say what would be rolled back and stop")
    back_out.set_defaults(func=cmd_rollback)

    migrate = sub.add_parser("migrate", help="make the Parquet folders of a lake written before the tables were "
                                             "Iceberg into Iceberg tables in place (no data file copied)")
    _add_lake_root(migrate)
    migrate.add_argument("--dry-run", action="store_true", help="say per table what would be registered and stop")
    migrate.set_defaults(func=cmd_migrate)

    features = sub.add_parser("features", help="the online feature store: look a customer up, or check it against gold")
    features_sub = features.add_subparsers(dest="features_command", required=True)
    get = features_sub.add_parser("get", help="print a customer's online features as JSON")
    get.add_argument("--customer-id", required=True)
    check = features_sub.add_parser("check", help="compare a sample of online values with gold as of a date; "
                                                  "prints the mismatches, exits 1 when there are any")
    check.add_argument("--date", type=_date, required=True)
    check.add_argument("--sample", type=int, default=200, help="customers to compare (0: all; default 200)")
    check.add_argument("--seed", type=int, default=0, help="the sample's random seed")
    for command, func in ((get, cmd_features_get), (check, cmd_features_check)):
        _add_table_target(command)
        command.add_argument("--online-table", help="aws: the DynamoDB table (lakehouse-<stage>-customer-features); "
                                                    "default: the lake's SQLite store under ops/online/")
        command.add_argument("--endpoint-url", help="aws: DynamoDB endpoint (e.g. a moto server)")
        command.set_defaults(func=func)

    sub.add_parser("deploy", add_help=False,
                   help="deploy the platform (CloudFormation change sets); see `lakehouse deploy --help`")
    sub.add_parser("dr", add_help=False,
                   help="disaster recovery: `lakehouse dr restore --region us-west-2` opens gold's replicated "
                        "tables there; see `lakehouse dr restore --help`")

    demo = sub.add_parser("demo", help="generate data and run the pipelines end to end (what `make run` does)")
    _add_lake_root(demo)
    demo.add_argument("--start", type=_date, default=date(2024, 1, 1))
    # 3 days x 5,000: enough for the model to beat the amount baseline within make run's 5 minutes
    # (docs/orchestration.md, "Demo sizing")
    demo.add_argument("--days", type=int, default=3)
    demo.add_argument("--rows-per-day", type=int, default=5000)
    demo.add_argument("--skip-models", action="store_true", help="ingestion only (no training or batch inference)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--drift-from", type=_date, metavar="YYYY-MM-DD",
                      help="shift transaction amounts and channel mix from this date (the drift report finds it)")
    demo.set_defaults(func=cmd_demo)
    return parser


def _pipelines() -> list[str]:
    from pipelines.registry import PIPELINES

    return sorted(PIPELINES)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["deploy"]:  # its own parser (infra/deploy.py) owns the options
        from infra.deploy import main as deploy_main

        return deploy_main(argv[1:])
    if argv[:1] == ["dr"]:  # its own parser (pipelines/dr_restore.py)
        from pipelines.dr_restore import main as dr_main

        return dr_main(argv[1:])
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
