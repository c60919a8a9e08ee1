"""A sweep's grid as an Optuna study on a shared storage, so workers on several machines split it.

The study has one categorical parameter, the point's run name, handed out by a `GridSampler`;
every worker records a heartbeat while it holds a point, and a point whose worker falls silent
is failed after the grace period and queued again (`RetryHeartbeatStaleTrialCallback`, the
name Optuna 4.9+ gives `RetryFailedTrialCallback`). The study remembers a digest of every
point's config, so a worker started from another spec is refused before it trains anything.
"""

from __future__ import annotations

import hashlib
import json
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import optuna
import sqlalchemy.engine
import sqlalchemy.exc
from optuna.trial import FrozenTrial, TrialState

from cnnlab.config import ExperimentConfig, config_to_dict, flatten
from cnnlab.config.compare import PLACE_KEYS
from cnnlab.errors import StorageError
from cnnlab.sweep.grid import SweepRun
from cnnlab.sweep.spec import SweepSpec

POINT = "run"  # the study's one parameter: a grid point's run name
POINTS_ATTR = "cnnlab_sweep_points"  # study user attr: {run name: digest of its config}
OUTCOME_ATTR = "cnnlab_outcome"  # trial user attr: the run's table columns (`run_outcome`)
EPOCHS_ATTR = "cnnlab_epochs"  # trial user attr: the run's per-epoch rows (`epoch_rows`)
RUN_DIR_ATTR = "run_dir"  # trial user attr: where the worker trained the run
SKIPPED_ATTR = "cnnlab_duplicate_of"  # trial user attr: the trial that holds its point
HEARTBEAT_S = 30  # default seconds between heartbeats; a worker silent for twice this is dead
MAX_RETRIES = 3  # times a point whose worker died is queued again
OPEN_ATTEMPTS = 5  # tries to open the storage while other workers create its tables
RACES = ("already exists", "locked", "UNIQUE constraint")  # errors of workers starting together
SQLITE_WAIT_S = 60  # how long an SQLite writer waits for another worker's write to end
EXAMPLE_URLS = "sqlite:///sweep.db (one machine) or postgresql://user:password@host/db"


@dataclass(frozen=True)
class SharedGrid:
    """A sweep's study on its storage: the points' names and the heartbeat interval."""

    study: optuna.Study
    storage: optuna.storages.RDBStorage
    url: str  # as shown to the user: any password hidden
    names: tuple[str, ...]  # run names, in grid order
    heartbeat: int  # seconds


class GridPoints(optuna.samplers.GridSampler):
    """Optuna's grid sampler, except that finishing the grid does not stop the study: its
    `after_trial` calls `Study.stop`, which only works inside `Study.optimize`, and a shared
    sweep's worker asks and tells itself (its loop decides when every point is done)."""

    def after_trial(self, study, trial, state, values) -> None:
        return None


@contextmanager
def quiet_optuna() -> Iterator[None]:
    """Hide Optuna's warnings that heartbeats are experimental and meant for `Study.optimize`
    (the worker records them itself, as `optimize` does)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
        yield


def point_digest(config: ExperimentConfig) -> str:
    """A short digest of what a point computes (where it is written and its threads aside)."""
    flat = {k: v for k, v in flatten(config_to_dict(config)).items() if k not in PLACE_KEYS}
    text = json.dumps(flat, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def shown_url(url: str) -> str:
    """The URL with any password hidden (it appears in error messages)."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _storage(url: str, heartbeat: int) -> optuna.storages.RDBStorage:
    """The storage at `url` with heartbeats and stale-point retries; a clear error if it cannot
    be opened (workers racing to create its tables try again)."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            with quiet_optuna():
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=(
                        {"connect_args": {"timeout": SQLITE_WAIT_S}}
                        if url.startswith("sqlite")
                        else None
                    ),
                    heartbeat_interval=heartbeat,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRIES
                    ),
                )
        except (sqlalchemy.exc.ArgumentError, ImportError) as error:
            raise StorageError(
                f"sweep --storage {shown_url(url)}: not a database URL cnnlab can open "
                f"({_first_line(error)}); expected an SQLAlchemy URL such as {EXAMPLE_URLS}, "
                "with its database driver installed"
            ) from None
        except sqlalchemy.exc.SQLAlchemyError as error:
            if attempt + 1 == OPEN_ATTEMPTS or not any(r in str(error) for r in RACES):
                raise StorageError(
                    f"sweep --storage {shown_url(url)}: cannot open the database: "
                    f"{_first_line(error)} (is the server up, the folder there and writable?)"
                ) from None
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _direction(spec: SweepSpec) -> str:
    return "minimize" if spec.metrics[0].endswith("loss") else "maximize"


def _study(spec: SweepSpec, storage, sampler, url: str, create: bool) -> optuna.Study:
    """The named study: made by the first worker and joined by the rest (workers starting
    together may race to make it: the loser tries again); with `create` False, it must exist."""
    for attempt in range(OPEN_ATTEMPTS):
        try:
            if not create:
                return optuna.load_study(study_name=spec.name, storage=storage, sampler=sampler)
            return optuna.create_study(
                study_name=spec.name,
                storage=storage,
                sampler=sampler,
                direction=_direction(spec),
                load_if_exists=True,
            )
        except KeyError:
            raise StorageError(
                f"sweep {spec.name}: there is no study {spec.name!r} at {shown_url(url)} to "
                "collect; start a worker first: cnnlab sweep SPEC --storage URL"
            ) from None
        except sqlalchemy.exc.SQLAlchemyError as error:
            if attempt + 1 == OPEN_ATTEMPTS:
                raise StorageError(
                    f"sweep {spec.name}: cannot open its study at {shown_url(url)}: "
                    f"{_first_line(error)}"
                ) from None
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def open_grid(
    spec: SweepSpec, runs: Sequence[SweepRun], url: str, heartbeat: int, create: bool = True
) -> SharedGrid:
    """The sweep's study at `url`, checked to hold this spec's points (with `create` False, it
    must exist: nothing is written to the storage)."""
    if heartbeat < 1:
        raise StorageError(f"sweep --heartbeat: expected whole seconds >= 1, got {heartbeat}")
    storage = _storage(url, heartbeat)
    names = tuple(run.name for run in runs)
    sampler = GridPoints({POINT: list(names)})
    sampler.reseed_rng()  # the grid's order stays seeded alike; each worker's picks differ
    study = _study(spec, storage, sampler, url, create)
    grid = SharedGrid(study, storage, shown_url(url), names, heartbeat)
    check_points(grid, spec, runs, record=create)
    return grid


def check_points(
    grid: SharedGrid, spec: SweepSpec, runs: Sequence[SweepRun], record: bool = True
) -> None:
    """The study was made from this spec: the same points, each with the same config (the first
    worker, with `record`, records them). Else its table would mix two experiments."""
    mine = {run.name: point_digest(run.config) for run in runs}
    recorded = grid.study.user_attrs.get(POINTS_ATTR)
    if recorded is None:
        if grid.study.get_trials(deepcopy=False) or not record:
            raise StorageError(
                f"sweep {spec.name}: the study {spec.name!r} at {grid.url} holds trials that "
                "cnnlab sweep did not make; give the sweep another --storage or name"
            )
        grid.study.set_user_attr(POINTS_ATTR, mine)
        return
    if recorded == mine:
        return
    gone = sorted(set(recorded) - set(mine))
    new = sorted(set(mine) - set(recorded))
    changed = sorted(name for name in mine if name in recorded and recorded[name] != mine[name])
    said = [
        f"{label}: {', '.join(names[:3])}{' ...' if len(names) > 3 else ''}"
        for label, names in (
            ("points only in the study", gone),
            ("points only in this spec", new),
            ("points with other settings", changed),
        )
        if names
    ]
    raise StorageError(
        f"sweep {spec.name}: the study {spec.name!r} at {grid.url} was made from another spec "
        f"({'; '.join(said)}); run the spec (with the same --quick, --epochs, --set...) that "
        "made it, or give this sweep another --storage"
    )


@dataclass(frozen=True)
class Progress:
    """Where each point stands in the study."""

    done: dict[str, FrozenTrial]  # point -> the trial holding its outcome
    running: frozenset[str]  # held by a worker (alive, or not yet past the grace period)
    waiting: frozenset[str]  # queued again after its worker died
    lost: frozenset[str]  # its workers died more often than MAX_RETRIES
    open: frozenset[str]  # never handed out

    @property
    def remaining(self) -> int:
        return len(self.running | self.waiting | self.lost | self.open)


def progress(grid: SharedGrid) -> Progress:
    """Every point's state, from the study's trials."""
    trials = grid.study.get_trials(deepcopy=False)
    done: dict[str, FrozenTrial] = {}
    tried: dict[str, set[TrialState]] = {}
    for trial in trials:
        name = trial.params.get(POINT)
        if name is None:
            continue
        tried.setdefault(name, set()).add(trial.state)
        if OUTCOME_ATTR in trial.user_attrs and name not in done:
            done[name] = trial
    others = [name for name in grid.names if name not in done]
    running = frozenset(n for n in others if TrialState.RUNNING in tried.get(n, ()))
    waiting = frozenset(n for n in others if TrialState.WAITING in tried.get(n, ())) - running
    lost = frozenset(n for n in others if n in tried) - running - waiting
    opened = frozenset(n for n in others if n not in tried)
    return Progress(done, running, waiting, lost, opened)
