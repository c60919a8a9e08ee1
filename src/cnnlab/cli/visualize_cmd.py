"""`cnnlab figures RUN` and `cnnlab features RUN --images 0,5 --layers net.conv`: a run's figures."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from cnnlab.errors import ConfigError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `figures` and `features` verbs."""
    figures = subparsers.add_parser(
        "figures", help="write every figure of a run into RUN/figures/ (PNG, SVG for curves)"
    )
    figures.add_argument("run", type=Path, help="a run directory")
    figures.set_defaults(func=run_figures)

    features = subparsers.add_parser(
        "features", help="feature maps of chosen conv layers for chosen test images"
    )
    features.add_argument("run", type=Path, help="a run directory")
    features.add_argument(
        "--images", metavar="I,J,...", help="test-split indices (default: one image per class)"
    )
    features.add_argument(
        "--layers",
        metavar="NAME,...",
        help="module names, e.g. net.conv (default: first two convs)",
    )
    features.set_defaults(func=run_features)


def _names(text: str | None) -> list[str] | None:
    """['a', 'b'] from 'a,b'; None when not given."""
    return [part.strip() for part in text.split(",") if part.strip()] if text else None


def parse_indices(text: str | None) -> list[int] | None:
    """[0, 5, 9] from '0,5,9'; None when not given."""
    if text is None:
        return None
    try:
        indices = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        indices = []
    if not indices:
        raise ConfigError(
            f"--images must be comma-separated test indices, e.g. 0,5,9; got {text!r}"
        )
    return indices


def run_figures(args: argparse.Namespace) -> int:
    """Write all figures of the run and list them."""
    from cnnlab.visualize import write_figures

    logging.basicConfig(level=logging.INFO, format="%(message)s")  # shows skipped figures
    for path in write_figures(args.run):
        print(path)
    return 0


def run_features(args: argparse.Namespace) -> int:
    """Write the feature-map pages for the chosen images and layers and list them."""
    from cnnlab.visualize import feature_visualization

    for path in feature_visualization(args.run, parse_indices(args.images), _names(args.layers)):
        print(path)
    return 0
