"""`cnnlab sweep SPEC.yaml [--out DIR] [--workers N] [--quick] [--epochs N] [--per-class N]
[--set KEY=VALUE]...`: a grid of runs and its table."""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnlab.cli.arguments import add_run_overrides, run_overrides


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="train a grid of runs and tabulate them",
        description="Train every point of a sweep spec's grid (× seeds) into <out>/<name>/runs, "
        "skipping runs that already finished (one trained with another config stops the sweep "
        "before any run), then write results.csv, results.md, figures and "
        "a comparison report. Order: the spec's base config, its quick: overrides (--quick), "
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
    add_run_overrides(parser, "run")
    parser.set_defaults(func=run_sweep_command)


def run_sweep_command(args: argparse.Namespace) -> int:
    from cnnlab.sweep import load_spec, run_sweep  # heavy imports load when the verb runs

    spec = load_spec(args.spec, quick=args.quick, overrides=run_overrides(args))
    result = run_sweep(spec, args.out, workers=args.workers, report=not args.no_report)
    print(result.markdown_path.read_text(encoding="utf-8"))
    print(f"sweep directory: {result.sweep_dir}")
    if result.comparison is not None:
        print(f"comparison report: {result.comparison}")
    failed = [row for row in result.rows if row["status"] not in ("finished", "early_stopped")]
    return 1 if failed and len(failed) == len(result.rows) else 0
