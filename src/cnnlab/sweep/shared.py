"""A sweep shared through an Optuna storage: workers on any machines split its grid, each
point trained once; a worker that finds no point left (or `--collect`) writes the tables from
the storage, the same files a local sweep writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import optuna

from cnnlab.config import Overrides
from cnnlab.errors import StorageError
from cnnlab.sweep.epochs import curves_of
from cnnlab.sweep.grid import SweepRun
from cnnlab.sweep.runner import SweepResult, prepare_sweep, publish
from cnnlab.sweep.spec import SweepSpec
from cnnlab.sweep.storage import (
    EPOCHS_ATTR,
    HEARTBEAT_S,
    MAX_RETRIES,
    OUTCOME_ATTR,
    Progress,
    SharedGrid,
    open_grid,
    progress,
)
from cnnlab.sweep.table import point_row
from cnnlab.sweep.worker import WorkerReport, work

SpecSource = SweepSpec | str | Path
OverridesIn = Overrides | Sequence[str] | Mapping | None


def _status(name: str, state: Progress) -> str:
    """The table status of a point not done yet."""
    if name in state.running:
        return "running"
    if name in state.waiting:
        return "queued again"
    if name in state.lost:
        return f"failed: its worker stopped each of {MAX_RETRIES + 1} times it was tried"
    return "not run"


def _pending(state: Progress) -> str:
    """`2 running, 1 not started` (empty when every point is done)."""
    counts = (
        (len(state.running), "running"),
        (len(state.waiting), "queued again after their worker stopped"),
        (len(state.lost), "given up after their workers stopped"),
        (len(state.open), "not started"),
    )
    return ", ".join(f"{count} {what}" for count, what in counts if count)


def collect(
    grid: SharedGrid, spec: SweepSpec, runs: Sequence[SweepRun], folder: Path, report: bool
) -> SweepResult:
    """results.csv, results.md and figures from the study's trials (the comparison page from
    the runs trained into this machine's `folder`); marked partial while points remain."""
    state = progress(grid)
    rows, epochs = [], {}
    for run in runs:
        trial = state.done.get(run.name)
        outcome = trial.user_attrs[OUTCOME_ATTR] if trial else {"status": _status(run.name, state)}
        rows.append(point_row(spec, run, outcome))
        epochs[run.name] = trial.user_attrs.get(EPOCHS_ATTR, []) if trial else []
    note = ""
    if state.remaining:
        note = (
            f"Partial table: {state.remaining} of {len(runs)} runs are not done yet "
            f"({_pending(state)})."
        )
    Path(folder).mkdir(parents=True, exist_ok=True)
    curves = curves_of(spec, runs, epochs)
    return publish(spec, rows, folder, curves, report=report, pending=state.remaining, note=note)


def run_shared_sweep(
    spec: SpecSource,
    storage: str,
    out: Path = Path("runs"),
    *,
    report: bool = True,
    quick: bool = False,
    overrides: OverridesIn = None,
    heartbeat: int = HEARTBEAT_S,
    hold_s: float = 0.0,
) -> tuple[SweepResult, WorkerReport]:
    """Join the sweep's study at the Optuna `storage` URL as one worker: train points until
    none is left (waiting for other workers' last points), then write the tables.

    Start it on several machines (or several times on one) with the same spec and storage;
    each point is trained once, into `out/<sweep name>/runs/<run name>` of the worker that took
    it. The same checks as `run_sweep` come first, and a study made from another spec is
    refused. `hold_s` holds each point that long before training it (for tests).
    """
    spec, folder, runs = prepare_sweep(spec, out, quick=quick, overrides=overrides)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid = open_grid(spec, runs, storage, heartbeat)
    done = work(grid, spec, runs, report=report, hold_s=hold_s)
    return collect(grid, spec, runs, folder, report), done


def collect_sweep(
    spec: SpecSource,
    storage: str,
    out: Path = Path("runs"),
    *,
    report: bool = True,
    quick: bool = False,
    overrides: OverridesIn = None,
) -> SweepResult:
    """Write the sweep's tables from its study at `storage`, training nothing (`pending` counts
    the points not done yet; the table then says it is partial)."""
    spec, folder, runs = prepare_sweep(spec, out, quick=quick, overrides=overrides, check=False)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    grid = open_grid(spec, runs, storage, HEARTBEAT_S, create=False)
    return collect(grid, spec, runs, folder, report)


def check_done(result: SweepResult, storage: str) -> None:
    """Refuse a partial table: a `StorageError` saying how many runs remain (after it is
    written, marked partial)."""
    if result.pending:
        raise StorageError(
            f"sweep {result.sweep_dir.name}: {result.pending} of {len(result.rows)} runs are not "
            f"done yet in the study at {storage}; wrote the partial table (marked as such) to "
            f"{result.markdown_path}. Let the workers finish, or start one: cnnlab sweep SPEC "
            f"--storage URL"
        )
