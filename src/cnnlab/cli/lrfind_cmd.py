"""`cnnlab lr-find CONFIG [--set k=v] [--start 1e-7 --end 10 --steps 100]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from cnnlab.cli.arguments import add_config_arguments, config_overrides
from cnnlab.config import load_experiments
from cnnlab.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lr-find",
        help="learning-rate range test: plot loss against an exponentially rising rate",
        description="Train a throwaway model briefly while raising the learning rate "
        "exponentially; writes lr_find.png and lr_find.csv into <out>/<run name>-lr-find/ "
        "and prints two suggested rates.",
    )
    add_config_arguments(parser, "optim.optimizer=adam")
    parser.add_argument("--start", type=float, default=1e-7, help="first learning rate")
    parser.add_argument("--end", type=float, default=10.0, help="last learning rate")
    parser.add_argument("--steps", type=int, default=100, help="iterations (at most)")
    parser.set_defaults(func=run_lr_find)


def run_lr_find(args: argparse.Namespace) -> int:
    from cnnlab.experiment import range_test  # heavy imports load when the verb runs
    from cnnlab.lrfind.output import write_lr_find

    configs = load_experiments(args.config, config_overrides(args))
    if len(configs) != 1:
        raise ConfigError(
            f"{args.config}: lr-find takes one experiment, the config describes {len(configs)}"
        )
    (config,) = configs
    result = range_test(config, start=args.start, end=args.end, steps=args.steps)
    png, csv_path = write_lr_find(result, Path(config.out) / f"{config.run_name}-lr-find")
    suggestion = result.suggestion
    print(f"ran {len(result.lrs)} iterations, lr {result.lrs[0]:.2e} to {result.lrs[-1]:.2e}")
    print(f"suggested lr (steepest descent): {suggestion.steepest:.2e}")
    print(f"suggested lr (minimum / 10):     {suggestion.min_over_10:.2e}")
    print(f"plot: {png}\ntable: {csv_path}")
    return 0
