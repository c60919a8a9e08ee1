"""`cnnlab report RUN [RUN ...] [--out DIR]`: a run's report, or a comparison page of several runs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Add the `report` verb."""
    parser = subparsers.add_parser(
        "report",
        help="write report.md and a self-contained report.html for a run, or compare runs",
        description="One run: report.md and report.html in the run directory. Several runs: "
        "comparison.md and comparison.html (a table of their metrics, overlaid curves) in --out.",
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run directories")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder of a comparison page (default: comparison-<time> beside the first run)",
    )
    parser.set_defaults(func=run_report)


def default_out(first_run: Path) -> Path:
    """`comparison-YYYYmmdd-HHMMSS` beside the first run."""
    return Path(first_run).parent / time.strftime("comparison-%Y%m%d-%H%M%S")


def run_report(args: argparse.Namespace) -> int:
    """Write the report (one run) or the comparison page (several) and print where."""
    from cnnlab.report import (  # heavy imports load when the verb runs
        write_comparison,
        write_report,
    )

    if len(args.runs) == 1 and args.out is None:
        paths = write_report(args.runs[0])
    else:
        paths = write_comparison(args.runs, args.out or default_out(args.runs[0]))
    for path in paths:
        print(path)
    return 0
