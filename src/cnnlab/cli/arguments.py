"""Arguments several verbs share: the YAML config, its `--set KEY=VALUE` overrides, and the
typed values of shortcut flags."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cnnlab.config import Overrides

# the shortcut flags that shrink or grow every run of a sweep or search: flag -> dotted key
RUN_FLAG_KEYS = {"epochs": "train.epochs", "per_class": "data.per_class"}


def add_config_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    """The optional positional `config` and repeatable `--set` (into `args.overrides`)."""
    parser.add_argument("config", nargs="?", type=Path, help="YAML experiment config")
    add_set_argument(parser, example)


def add_set_argument(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, example: str
) -> None:
    """The repeatable `--set KEY=VALUE` (into `args.overrides`), read as `cnnlab train` reads it."""
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override any config key, e.g. --set {example}",
    )


def add_run_overrides(parser: argparse.ArgumentParser, what: str) -> None:
    """`--set`, `--epochs` and `--per-class` for a verb that trains many runs (`what`)."""
    group = parser.add_argument_group(
        f"overrides for every {what} (on top of the spec's base config)"
    )
    add_set_argument(group, "train.batch_size=64")
    group.add_argument("--epochs", type=int, help=f"train.epochs of every {what}")
    group.add_argument(
        "--per-class", type=int, help=f"data.per_class (training images per class) of every {what}"
    )


def run_overrides(args: argparse.Namespace) -> Overrides:
    """The typed `--epochs` / `--per-class` values, then the `--set` texts (which win)."""
    return config_overrides(args, flag_values(args, RUN_FLAG_KEYS))


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
