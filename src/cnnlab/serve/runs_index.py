"""The runs table: every run under the runs folder (sweep runs nested in it too), one summary
row each, read through `RunDir` and cached by the mtimes of the files the row comes from."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cnnlab.atomic import write_text
from cnnlab.errors import CnnlabError
from cnnlab.runs import RunDir
from cnnlab.runs.rundir import json_safe
from cnnlab.serve.paths import RUN_MARKS

SWEEP_RUNS = "runs"  # a sweep keeps its runs in <sweep>/runs/<run>


def find_runs(runs_dir: Path) -> list[Path]:
    """Every run directory under `runs_dir` (one holding the run marks), sorted; symlinks and
    hidden folders are skipped, and a run's own folders (figures, export) are not searched.
    One directory listing per folder; the marks' kinds come with it (no stat for each)."""
    found, folders = [], [os.fspath(runs_dir)]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as listing:
                entries = list(listing)
        except OSError:
            continue  # unreadable or gone since its parent was listed: as os.walk skips it
        marks = [entry for entry in entries if entry.name in RUN_MARKS]
        if folder != os.fspath(runs_dir) and len(marks) == len(RUN_MARKS):
            if all(entry.is_file() for entry in marks):
                found.append(Path(folder))
                continue
        folders.extend(
            entry.path
            for entry in entries
            if not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False)
        )
    return sorted(found)


def run_id(runs_dir: Path, path: Path) -> str:
    """The run's id: its path relative to the runs folder, "/"-separated."""
    return path.relative_to(runs_dir).as_posix()


def sweep_folder(runs_dir: Path, path: Path) -> Path | None:
    """The sweep folder holding run `path` (<sweep>/runs/<run>), or None for a lone run."""
    parent = path.parent
    return parent.parent if parent.name == SWEEP_RUNS and parent != runs_dir else None


def sweep_name(runs_dir: Path, folder: Path) -> str:
    """A sweep's name in the table: its folder relative to the runs folder (or the runs
    folder's own name when the folder served is a sweep)."""
    return runs_dir.name if folder == runs_dir else folder.relative_to(runs_dir).as_posix()


def _watched(run: RunDir) -> tuple[Path, ...]:
    """The files a summary row is read from (their mtimes key the cache)."""
    return (
        run.config_path,
        run.status_path,
        run.metrics_path,
        run.test_metrics_path(),
        run.final_path,
    )


WATCHED = tuple(path.name for path in _watched(RunDir(Path())))  # the names RunDir gives them


def _stamp(path: Path) -> tuple[int, ...]:
    """The watched files' mtimes (-1 for one that is missing): a row is kept while they hold."""
    folder = os.fspath(path)
    stamps = []
    for name in WATCHED:  # os.stat of plain strings: 1,000 runs are 5,000 of these a request
        try:
            stamps.append(os.stat(os.path.join(folder, name)).st_mtime_ns)
        except OSError:
            stamps.append(-1)
    return tuple(stamps)


def _label(value: Any) -> str | None:
    """A name as the table shows it: text (YAML may have read `2024-01-01` as a date)."""
    return value if value is None or isinstance(value, str) else str(value)


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return json_safe(float(value)) if ok else None


def summary_row(runs_dir: Path, path: Path) -> dict[str, Any]:
    """One run's row of the runs table; a damaged file leaves its fields None and says why."""
    run = RunDir(path)
    sweep = sweep_folder(runs_dir, path)
    row: dict[str, Any] = {
        "id": run_id(runs_dir, path),
        "name": path.name,
        "status": "unknown",
        "model": None,
        "dataset": None,
        "epochs_done": None,
        "epochs_planned": None,
        "best_val_accuracy": None,
        "test_accuracy": None,
        "test_f1_macro": None,
        "train_seconds": None,
        "started": None,
        "sweep": None if sweep is None else sweep_name(runs_dir, sweep),
        "errors": [],
    }
    readers = (_status, _config, _epochs, _test, _final)  # the columns the table shows
    for read in readers:
        try:
            row.update(read(run))
        except CnnlabError as error:
            row["errors"].append(str(error))
    return row


def _status(run: RunDir) -> dict[str, Any]:
    return {"status": str(run.read_status().get("status", "unknown"))}


def _config(run: RunDir) -> dict[str, Any]:
    outline = run.read_config_outline()
    started = datetime.fromtimestamp(os.stat(run.config_path).st_mtime, UTC)
    return {
        "model": _label(outline["model"]),
        "dataset": _label(outline["dataset"]),
        "epochs_planned": outline["epochs"],
        "started": started.isoformat(timespec="seconds"),
    }


def _epochs(run: RunDir) -> dict[str, Any]:
    values = run.read_epoch_column("val_accuracy")
    accuracies = [value for value in values if value is not None]
    return {
        "epochs_done": len(values),
        "best_val_accuracy": _number(max(accuracies)) if accuracies else None,
    }


def _test(run: RunDir) -> dict[str, Any]:
    metrics = run.read_test_metrics() or {}
    return {
        "test_accuracy": _number(metrics.get("accuracy")),
        "test_f1_macro": _number(metrics.get("f1_macro")),
    }


def _final(run: RunDir) -> dict[str, Any]:
    return {"train_seconds": _number(run.read_final().get("train_seconds"))}


LISTING_VERSION = 2  # of the listing cache file's layout (2: no in_channels, 5 files watched)


class RunsIndex:
    """The runs of one folder, each summary row kept until one of its files changes; with
    `cache_file`, the rows outlive the server too (a restarted server reads only what changed)."""

    def __init__(self, runs_dir: Path, cache_file: Path | None = None) -> None:
        self.runs_dir = Path(runs_dir).resolve()
        self.cache_file = cache_file
        self._rows: dict[Path, tuple[tuple[int, ...], dict[str, Any]]] = self._load()
        self._lock = threading.Lock()  # guards the rows
        self._listing = threading.Lock()  # one listing at a time: a second waits, then reuses
        self._changed = False

    def _load(self) -> dict[Path, tuple[tuple[int, ...], dict[str, Any]]]:
        """The rows a previous server kept; an unreadable or foreign file is ignored."""
        if self.cache_file is None:
            return {}
        try:
            data = json.loads(Path(self.cache_file).read_text(encoding="utf-8"))
            if data.get("version") != LISTING_VERSION or data.get("runs_dir") != str(self.runs_dir):
                return {}
            return {
                self.runs_dir / run: (tuple(entry["stamp"]), entry["row"])
                for run, entry in data["rows"].items()
            }
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return {}

    def _save(self) -> None:
        """Keep the rows for the next server (a cache: failing to write it only costs time)."""
        if self.cache_file is None or not self._changed:
            return
        with self._lock:
            rows = {
                row["id"]: {"stamp": list(stamp), "row": row} for stamp, row in self._rows.values()
            }
            self._changed = False
        data = {"version": LISTING_VERSION, "runs_dir": str(self.runs_dir), "rows": rows}
        try:
            Path(self.cache_file).parent.mkdir(parents=True, exist_ok=True)
            write_text(Path(self.cache_file), json.dumps(data, separators=(",", ":")))
        except (OSError, CnnlabError):
            pass

    def row(self, path: Path) -> dict[str, Any]:
        """The summary row of run directory `path`, from the cache when its files are unchanged."""
        stamp = _stamp(path)
        cached = self._rows.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        row = summary_row(self.runs_dir, path)
        with self._lock:
            self._rows[path] = (stamp, row)
            self._changed = True
        return row

    def rows(self) -> list[dict[str, Any]]:
        """Every run's row, in id order; rows of runs that are gone leave the cache. A request
        that comes while `serve`'s first listing runs waits for it, then reads its rows."""
        with self._listing:
            paths = find_runs(self.runs_dir)
            rows = [self.row(path) for path in paths]
            with self._lock:
                for gone in set(self._rows) - set(paths):
                    del self._rows[gone]
                    self._changed = True
            self._save()
        return rows
