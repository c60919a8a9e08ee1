"""Arguments several verbs share: the YAML config, its `--set KEY=VALUE` overrides, and the
typed values of shortcut flags."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cnnlab.config import Overrides


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


def flag_values(
    args: argparse.Namespace,
    flag_keys: Mapping[str, str],
    parsers: Mapping[str, Callable[[str], Any]] | None = None,
) -> dict[str, Any]:
    """{dotted key: value} of each flag in `flag_keys` (flag -> key) that was given: typed by
    argparse (int, float), by the flag's entry in `parsers`, or the string the user typed."""
    parsers = parsers or {}
    values = {}
    for flag, key in flag_keys.items():
        value = getattr(args, flag, None)
        if value is not None:
            values[key] = parsers[flag](value) if flag in parsers else value
    return values


def comma_list(text: str) -> list[int | str]:
    """`'0,1,7'` -> [0, 1, 7]; `'cat,dog'` -> ['cat', 'dog']: decimal integers become ints."""
    parts = [part.strip() for part in text.split(",")]
    return [int(part) if part.isascii() and part.isdigit() else part for part in parts if part]


def config_overrides(
    args: argparse.Namespace, values: Mapping[str, Any] | None = None
) -> Overrides:
    """The typed `values` of a verb's shortcut flags, then its `--set` texts (which win)."""
    return Overrides(values=dict(values or {}), texts=tuple(args.overrides))
