"""Run ids to run directories, inside the runs folder only.

A run id is the run directory's path relative to the runs folder with "/" separators. Ids
that could reach outside it are refused before any file is touched: `..`, absolute paths,
backslashes, NUL, percent-encoded traversal (decoded once more), and symlinks whose resolved
path leaves the folder.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from cnnlab.errors import CnnlabError
from cnnlab.runs import RunDir

_PLAIN_NAME = re.compile(r"^[A-Za-z0-9._-]+$")  # a figure stem: no separators, no traversal


class NotFound(CnnlabError):
    """A run id or file name that names nothing servable (the app answers 404)."""


def check_id(run_id: str) -> tuple[str, ...]:
    """The id's path components; an id that could leave the runs folder raises `NotFound`."""
    decoded = unquote(run_id)  # the framework decoded once; a second %2e%2e is traversal too
    if not run_id or "\x00" in decoded or "\\" in decoded:
        raise NotFound(f"run id {run_id!r}: expected a path relative to the runs folder")
    if decoded.startswith("/") or re.match(r"^[A-Za-z]:", decoded):
        raise NotFound(f"run id {run_id!r}: absolute paths are refused")
    parts = tuple(part for part in decoded.split("/") if part not in ("", "."))
    if not parts or ".." in parts:
        raise NotFound(f"run id {run_id!r}: '..' and empty ids are refused")
    return parts


def resolve_run(runs_dir: Path, run_id: str) -> Path:
    """The directory of run `run_id` under `runs_dir`: inside it after symlinks, and a run
    (config.yaml and status.json); anything else raises `NotFound`."""
    root = Path(runs_dir).resolve()
    path = root.joinpath(*check_id(run_id)).resolve()
    if not path.is_relative_to(root) or path == root:
        raise NotFound(f"run id {run_id!r}: outside the runs folder")
    if not is_run_dir(path):
        raise NotFound(f"no run {run_id!r} in {runs_dir}")
    return path


def run_marks(run: RunDir) -> tuple[Path, Path]:
    """The files that make a directory a run: config.yaml and status.json (written first)."""
    return run.config_path, run.status_path


RUN_MARKS = frozenset(path.name for path in run_marks(RunDir(Path())))


def is_run_dir(path: Path) -> bool:
    """Whether `path` holds the run marks as files."""
    return all(mark.is_file() for mark in run_marks(RunDir(path)))


def figure_file(figures: Path, name: str) -> Path:
    """figures/NAME.png for a plain NAME (no separators or dots in front); else `NotFound`."""
    if not _PLAIN_NAME.match(name) or name.startswith("."):
        raise NotFound(f"figure name {name!r}: expected a plain name such as 'loss'")
    path = figures / f"{name}.png"
    if not path.is_file() or not path.resolve().is_relative_to(figures.resolve()):
        raise NotFound(f"no figure {name!r} in {figures}")
    return path
