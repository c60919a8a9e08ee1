"""`cnnlab models` and `cnnlab summary MODEL`: list the models and show a model's layer table."""

from __future__ import annotations

import argparse

import yaml

from cnnlab.data import load_dataset
from cnnlab.data.catalog import dataset_shape, lookup
from cnnlab.errors import ConfigError

DEFAULT_CLASSES = 10  # when neither --dataset nor --classes says


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `models` and `summary` verbs."""
    models = subparsers.add_parser("models", help="the models cnnlab builds, one line each")
    models.set_defaults(func=run_models)

    summary = subparsers.add_parser(
        "summary", help="a model's layers: output shape, parameters, multiply-accumulates"
    )
    summary.add_argument("model", help="a name from `cnnlab models`, PATH.yaml or PATH.py:CLASS")
    source = summary.add_mutually_exclusive_group()
    source.add_argument("--dataset", help="take the input shape and class count from a dataset")
    source.add_argument("--input", metavar="C,H,W", help="input shape, e.g. 3,32,32")
    summary.add_argument("--classes", type=int, metavar="K", help="number of classes")
    summary.add_argument(
        "--option", action="append", default=[], metavar="KEY=VALUE", help="a model option"
    )
    summary.add_argument("--markdown", action="store_true", help="print a Markdown table")
    summary.set_defaults(func=run_summary)


def parse_input_shape(text: str) -> tuple[int, int, int]:
    """(C, H, W) from 'C,H,W' (also 'CxHxW')."""
    parts = text.replace("x", ",").split(",")
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(
            f"--input must be C,H,W with positive integers, e.g. 3,32,32; got {text!r}"
        )
    return shape  # type: ignore[return-value]


def parse_options(pairs: list[str]) -> dict[str, object]:
    """{key: value} from ['key=value', ...]; values read as YAML (2, 0.3, true, [32, 64])."""
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(
                f"--option must be KEY=VALUE, e.g. --option dropout=0.3; got {pair!r}"
            )
        try:
            options[key.strip()] = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            options[key.strip()] = text  # e.g. a compact spec with ':' in it
    return options


def run_models(args: argparse.Namespace) -> int:
    """Print every model name with its one-line description."""
    from cnnlab.models import list_models  # heavy imports load when the verb runs

    entries = list_models()
    width = max(len(name) for name, _ in entries)
    for name, description in entries:
        print(f"{name:<{width}}  {description}")
    print(f"{'PATH.yaml':<{width}}  a layer spec file (see configs/models/)")
    print(f"{'PATH.py:CLASS':<{width}}  your own nn.Module class from a Python file")
    return 0


def dataset_input(name: str) -> tuple[tuple[int, int, int], int]:
    """(C, H, W) and class count of dataset `name`: from the table for a named one, from its
    decoded images (cached) for a folder or an archive."""
    _, path = lookup(name)
    if path is None:
        return dataset_shape(name)
    data = load_dataset(name, offline=True)
    first = next(iter(data.splits.values()))
    return first.image_shape, data.num_classes


def run_summary(args: argparse.Namespace) -> int:
    """Build the model for the given input and print its layer table."""
    from cnnlab.models import (  # heavy imports load when the verb runs
        build_model,
        format_summary,
        summarize,
        summary_markdown,
    )

    if args.dataset:
        in_shape, classes = dataset_input(args.dataset)
    elif args.input:
        in_shape, classes = parse_input_shape(args.input), DEFAULT_CLASSES
    else:
        raise ConfigError("summary needs an input shape: --dataset NAME or --input C,H,W")
    classes = args.classes if args.classes is not None else classes
    model = build_model(args.model, in_shape, classes, **parse_options(args.option))
    rows = summarize(model, in_shape)
    shape = "x".join(map(str, in_shape))
    print(f"{args.model}: input {shape}, {classes} classes")
    print(summary_markdown(rows) if args.markdown else format_summary(rows))
    return 0
