"""One worker of a shared sweep: take a point from the study, train it, record it, take the next.

Workers that race may be handed the same point (a `GridSampler` picks among the points nobody
finished). A trial trains its point only when no other trial finished it and no
lower-numbered trial holds or awaits it; otherwise it is told PRUNED with the holder's number
(`SKIPPED_ATTR`). While only other workers' points are left, the worker waits: a point whose
worker dies is failed after the grace period, queued again and taken here.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from cnnlab.runs import RunDir
from cnnlab.sweep.epochs import epoch_rows
from cnnlab.sweep.grid import SweepRun
from cnnlab.sweep.runner import run_one
from cnnlab.sweep.spec import METRICS, SweepSpec
from cnnlab.sweep.storage import (
    EPOCHS_ATTR,
    OUTCOME_ATTR,
    POINT,
    RUN_DIR_ATTR,
    SKIPPED_ATTR,
    SharedGrid,
    progress,
    quiet_optuna,
)
from cnnlab.sweep.table import run_outcome

UNNAMED_WAIT_S = 5.0  # how long a lower trial may take between being asked and naming its point


@dataclass(frozen=True)
class WorkerReport:
    """What this worker did: the points it took (trained, or found settled in its --out) and
    the duplicates it was handed."""

    trained: tuple[str, ...]
    skipped: tuple[str, ...]


@contextmanager
def heartbeat(grid: SharedGrid, trial: optuna.Trial) -> Iterator[None]:
    """Record the trial's heartbeat now and every `grid.heartbeat` seconds until the block ends
    (a worker killed mid-point stops beating, so its point is failed and queued again)."""
    stop = threading.Event()
    trial_id = trial._trial_id  # the storage's key for the trial; Optuna names no public one

    def beat() -> None:
        while not stop.wait(grid.heartbeat):
            try:
                grid.storage.record_heartbeat(trial_id)
            except sqlalchemy.exc.SQLAlchemyError:  # a busy or unreachable database: next beat
                continue

    grid.storage.record_heartbeat(trial_id)  # before training starts: the point is held
    thread = threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def holder(grid: SharedGrid, name: str, number: int) -> int | None:
    """The trial that owns point `name` instead of trial `number`: one that finished it, else
    the lowest-numbered one that holds or awaits it; None when `number` owns it."""
    deadline = time.monotonic() + UNNAMED_WAIT_S
    while True:
        trials = grid.study.get_trials(deepcopy=False)
        owners = [t for t in trials if t.params.get(POINT) == name and t.number != number]
        for trial in owners:
            if OUTCOME_ATTR in trial.user_attrs:
                return trial.number
        live = (TrialState.RUNNING, TrialState.WAITING)
        lower = [t.number for t in owners if t.state in live and t.number < number]
        if lower:
            return min(lower)
        unnamed = [  # asked a moment ago, its point not yet named: it may be this one
            t
            for t in trials
            if t.state == TrialState.RUNNING and t.number < number and not t.params
        ]
        if not unnamed or time.monotonic() > deadline:
            return None
        time.sleep(0.1)


def record(grid: SharedGrid, spec: SweepSpec, trial: optuna.Trial, folder: RunDir) -> None:
    """Store the run's outcome and epoch rows in the trial and tell its value (the first metric);
    a run without one (failed, diverged) is told FAIL, its outcome kept."""
    outcome = run_outcome(folder, tuple(METRICS))
    trial.set_user_attr(EPOCHS_ATTR, epoch_rows(folder))
    trial.set_user_attr(OUTCOME_ATTR, outcome)
    value = outcome.get(spec.metrics[0])
    if isinstance(value, float) and math.isfinite(value):
        grid.study.tell(trial, value)
    else:
        grid.study.tell(trial, state=TrialState.FAIL)


def take_point(
    grid: SharedGrid,
    spec: SweepSpec,
    runs: dict[str, SweepRun],
    *,
    report: bool,
    hold_s: float = 0.0,
) -> tuple[str, bool]:
    """Ask the study for a point and train it unless another trial owns it; (name, trained).

    `hold_s` waits that long holding the point before training (tests kill a worker then).
    """
    with quiet_optuna():
        trial = grid.study.ask({POINT: CategoricalDistribution(grid.names)})
    name = trial.params[POINT]
    with heartbeat(grid, trial):
        owner = holder(grid, name, trial.number)
        if owner is not None:
            trial.set_user_attr(SKIPPED_ATTR, owner)
            grid.study.tell(trial, state=TrialState.PRUNED)
            return name, False
        config = runs[name].config
        folder = RunDir(Path(config.out) / config.run_name)
        trial.set_user_attr(RUN_DIR_ATTR, str(folder.path.resolve()))
        time.sleep(hold_s)
        run_one(config, report)
        try:
            record(grid, spec, trial, folder)
        except optuna.exceptions.UpdateFinishedTrialError:
            pass  # silent past the grace period, the point was queued again: its retry keeps it
    return name, True


def requeue_lost(grid: SharedGrid) -> None:
    """Queue once more each point whose workers all died (MAX_RETRIES used up); a restarted
    sweep gives them another chance."""
    for name in sorted(progress(grid).lost):
        grid.study.enqueue_trial({POINT: name}, skip_if_exists=False)


def work(
    grid: SharedGrid,
    spec: SweepSpec,
    runs: Sequence[SweepRun],
    *,
    report: bool = True,
    hold_s: float = 0.0,
) -> WorkerReport:
    """Train points until every point is done (waiting while other workers hold the last ones)."""
    by_name = {run.name: run for run in runs}
    trained: list[str] = []
    skipped: list[str] = []
    requeue_lost(grid)
    while True:
        with quiet_optuna():
            optuna.storages.fail_stale_trials(grid.study)  # a dead worker's point: FAIL, queued
        state = progress(grid)
        if state.open or state.waiting:
            name, took = take_point(grid, spec, by_name, report=report, hold_s=hold_s)
            (trained if took else skipped).append(name)
        elif state.running:
            time.sleep(grid.heartbeat)
        else:
            return WorkerReport(tuple(trained), tuple(skipped))
