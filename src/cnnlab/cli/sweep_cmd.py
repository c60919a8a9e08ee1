"""`cnnlab sweep SPEC.yaml [--out DIR] [--workers N | --storage URL [--collect]] [--quick]
[--epochs N] [--per-class N] [--set KEY=VALUE]...`: a grid of runs and its table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnlab.cli.arguments import add_run_overrides, run_overrides
from cnnlab.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="train a grid of runs and tabulate them",
        description="Train every point of a sweep spec's grid (× seeds) into <out>/<name>/runs, "
        "skipping runs that already finished (one trained with another config stops the sweep "
        "before any run), then write results.csv, results.md, figures and "
        "a comparison report; with --storage URL, workers on several machines split the grid "
        "through one Optuna study. Order: the spec's base config, its quick: overrides (--quick), "
        "then --epochs, --per-class and --set, then each grid point's values.",
    )
    parser.add_argument("spec", type=Path, help="sweep spec YAML (see configs/recipes/)")
    parser.add_argument(
        "--out", type=Path, default=Path("runs"), help="parent of the sweep directory"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="runs trained at once (cores are split)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="apply the spec's quick: overrides (a fast smoke run)"
    )
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="skip per-run figures and reports (runs are still evaluated)",
    )
    shared = parser.add_argument_group("a grid shared by workers on several machines")
    shared.add_argument(
        "--storage",
        metavar="URL",
        help="Optuna storage URL (sqlite:///sweep.db on one machine, postgresql://... or "
        "mysql://... across machines): every worker started with it takes the next point not "
        "yet trained, so each point is trained once; a worker that finds none left writes "
        "the tables",
    )
    shared.add_argument(
        "--collect",
        action="store_true",
        help="train nothing: write the tables from --storage (an error, after writing the "
        "table marked partial, while points remain)",
    )
    shared.add_argument(
        "--heartbeat",
        type=int,
        metavar="SECONDS",
        help="seconds between a worker's heartbeats; a point whose worker is silent for twice "
        "this long is trained again by another (default 30, sweep.storage.HEARTBEAT_S)",
    )
    shared.add_argument("--hold", type=float, default=0.0, help=argparse.SUPPRESS)  # tests
    add_run_overrides(parser, "run")
    parser.set_defaults(func=run_sweep_command)


def _print_result(result) -> None:
    """results.md, then where the sweep's files are."""
    print(result.markdown_path.read_text(encoding="utf-8"))
    print(f"sweep directory: {result.sweep_dir}")
    if result.comparison is not None:
        print(f"comparison report: {result.comparison}")


def run_sweep_command(args: argparse.Namespace) -> int:
    from cnnlab.sweep import load_spec, run_sweep  # heavy imports load when the verb runs

    if args.collect and not args.storage:
        raise ConfigError("sweep --collect: give the --storage URL whose study to collect")
    if args.heartbeat is not None and (args.collect or not args.storage):
        raise ConfigError("sweep --heartbeat: only a worker (--storage URL, no --collect) beats")
    if args.storage and args.workers != 1:
        raise ConfigError(
            f"sweep --workers {args.workers} --storage: start the command {args.workers} times "
            "instead (each worker takes its own points from the storage)"
        )
    spec = load_spec(args.spec, quick=args.quick, overrides=run_overrides(args))
    report = not args.no_report
    if args.storage:
        return _shared(spec, args, report)
    result = run_sweep(spec, args.out, workers=args.workers, report=report)
    _print_result(result)
    failed = [row for row in result.rows if row["status"] not in ("finished", "early_stopped")]
    return 1 if failed and len(failed) == len(result.rows) else 0


def _shared(spec, args: argparse.Namespace, report: bool) -> int:
    """One worker of a sweep shared through `--storage`, or (`--collect`) its tables alone."""
    from cnnlab.sweep.shared import check_done, collect_sweep, run_shared_sweep
    from cnnlab.sweep.storage import HEARTBEAT_S, shown_url

    if args.collect:
        result = collect_sweep(spec, args.storage, args.out, report=report)
    else:
        heartbeat = HEARTBEAT_S if args.heartbeat is None else args.heartbeat
        result, worker = run_shared_sweep(
            spec, args.storage, args.out, report=report, heartbeat=heartbeat, hold_s=args.hold
        )
        print(
            f"this worker took {len(worker.trained)} run(s)"
            + (f": {', '.join(worker.trained)}" if worker.trained else "")
            + (f"; {len(worker.skipped)} duplicate(s) skipped" if worker.skipped else ""),
            file=sys.stderr,
        )
    _print_result(result)
    check_done(result, shown_url(args.storage))
    return 0
