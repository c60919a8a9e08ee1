"""`cnnlab <verb>`: a thin command line; every verb calls one public function.

Each verb group lives in its own module exposing `add_parser(subparsers)`; the parser it
adds sets `func`, a callable taking the parsed arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import gc
import sys

from cnnlab.errors import CnnlabError


def build_parser() -> argparse.ArgumentParser:
    """The full `cnnlab` argument parser with every verb group attached."""
    from cnnlab.cli import (
        data_cmd,
        eval_cmd,
        export_cmd,
        lrfind_cmd,
        models_cmd,
        report_cmd,
        scratch_cmd,
        search_cmd,
        serve_cmd,
        sweep_cmd,
        train_cmd,
        visualize_cmd,
    )

    parser = argparse.ArgumentParser(
        prog="cnnlab", description="A workbench for convolutional image classifiers."
    )
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    verb_groups = (
        data_cmd, models_cmd, train_cmd, eval_cmd, visualize_cmd, report_cmd,
        sweep_cmd, search_cmd, lrfind_cmd, scratch_cmd, export_cmd, serve_cmd,
    )  # fmt: skip
    for module in verb_groups:
        module.add_parser(subparsers)
    return parser


def run() -> None:
    """The `cnnlab` console script and `python -m cnnlab`: `main`, then exit with its code.

    The process ends right after, so the objects it made are frozen out of the garbage
    collector first: with torch loaded, the final collections at exit took 0.6-1 s.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def main(argv: list[str] | None = None) -> int:
    """Run one `cnnlab` verb with `argv` (default: the command line); its exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CnnlabError as error:
        print(f"cnnlab: error: {error}", file=sys.stderr)
        return 1
    except MemoryError as error:  # NumPy's says what it asked for: "Unable to allocate 531 GiB..."
        said = str(error) or "an allocation failed"
        print(
            f"cnnlab: error: out of memory: {said}; the files written so far are intact "
            f"(check data.image_size, data.per_class or train.batch_size)",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("cnnlab: interrupted", file=sys.stderr)
        return 130
