"""Arguments several verbs share: the YAML config and its `--set KEY=VALUE` overrides."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_config_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    """The optional positional `config` and repeatable `--set` (into `args.overrides`)."""
    parser.add_argument("config", nargs="?", type=Path, help="YAML experiment config")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override any config key, e.g. --set {example}",
    )
