"""`cnnlab search SPEC.yaml --trials N [--storage URL] [--out DIR] [--epochs N] [--per-class N]
[--set KEY=VALUE]...`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnnlab.cli.arguments import add_run_overrides, run_overrides


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search",
        help="Optuna hyperparameter search over a spec's ranges",
        description="Run trials of an Optuna study over the spec's space, pruning poor trials "
        "on the per-epoch validation metric. Workers given the same --storage share one study. "
        "--epochs, --per-class and --set apply to the spec's base config; each trial's "
        "sampled values then apply on top.",
    )
    parser.add_argument("spec", type=Path, help="search spec YAML (name, base, space, direction)")
    parser.add_argument("--trials", type=int, required=True, help="trials this worker runs")
    parser.add_argument(
        "--storage", help="Optuna storage URL (default sqlite:///<out>/<name>/study.db)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs"), help="parent of the study directory"
    )
    parser.add_argument("--no-report", action="store_true", help="skip the best run's report")
    add_run_overrides(parser, "trial")
    parser.set_defaults(func=run_search_cmd)


def run_search_cmd(args: argparse.Namespace) -> int:
    from cnnlab.search import load_search_spec, run_search  # heavy imports load when the verb runs

    spec = load_search_spec(args.spec, run_overrides(args))
    for note in spec.notes:
        print(f"cnnlab search: {note}", file=sys.stderr)
    result = run_search(
        spec, args.trials, out=args.out, storage=args.storage, report=not args.no_report
    )
    print(result.results_md.read_text(encoding="utf-8"))
    print(f"study: {spec.name} at {result.storage} ({result.trials} trials)")
    print(f"results: {result.results_csv}, {result.results_md}")
    if result.best_run_dir is not None:
        print(
            f"best run: {result.best_run_dir}  value {result.best_value:.4f}  params {result.best_params}"
        )
    if result.report is not None:
        print(f"best run report: {result.report}")
    return 0
