"""`cnnlab serve [RUNS_DIR]`: a local web app over a folder of runs."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `serve` verb."""
    parser = subparsers.add_parser(
        "serve",
        help="browse runs in a web page: a runs table, live curves, comparisons, try a model",
        description="Serve a local web app over the runs under RUNS_DIR (sweep runs too): a "
        "table of runs, each run's curves (updated live while it trains) and figures, "
        "comparisons, and a page to draw or upload an image for a finished run's model. "
        "Needs pip install 'cnnlab[serve]'.",
    )
    parser.add_argument(
        "runs_dir", nargs="?", type=Path, default=Path("runs"), metavar="RUNS_DIR",
        help="folder of runs (default runs)",
    )  # fmt: skip
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    from cnnlab.serve.server import serve

    serve(args.runs_dir, host=args.host, port=args.port)
    return 0
