"""MLflow tracking of a run (`train.tracker: mlflow`, the optional extra `cnnlab[mlflow]`).

One MLflow run per cnnlab run, named like it and tagged with its directory. Params: the
resolved config, flattened; metrics: each epoch's row at step = epoch, then metrics.json's
test metrics and final_metrics.json's numbers; artifacts: the figures and the report. The
MLflow run's id is kept in the run directory (`RunDir.write_tracker_run`), so a resumed run
logs on into the same MLflow run. A store that cannot be opened stops the run before it
starts; a logging failure later warns once and training goes on without the tracker.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from cnnlab.config import ExperimentConfig
from cnnlab.errors import ConfigError
from cnnlab.experiment.tensorboard import flat_hparams
from cnnlab.runs import RunDir, TrackerRun

INSTALL = "pip install 'cnnlab[mlflow]'"
URI_VARIABLE = (
    "MLFLOW_TRACKING_URI"  # MLflow's own setting, honoured when train.tracking_uri is unset
)
# MLflow 3's recommended local store (its file store ./mlruns is deprecated and refused by
# default): a SQLite file in the working directory, its artifacts in ./mlruns beside it
DEFAULT_STORE = "mlflow.db"
ARTIFACTS = "mlruns"
PARAMS_PER_CALL = 100  # the most params MLflow takes in one log_batch
# status.json's status -> the MLflow run's end state (any other status: FAILED)
END_STATES = {"finished": "FINISHED", "early_stopped": "FINISHED", "interrupted": "KILLED"}

Warn = Callable[[str], None]


def client_class() -> type:
    """MLflow's `MlflowClient`; a `ConfigError` naming the extra to install when it is missing."""
    try:
        from mlflow import MlflowClient
    except ImportError as error:
        raise ConfigError(
            f"train.tracker: mlflow needs the mlflow package, which is not installed ({error}); "
            f"install it with: {INSTALL}"
        ) from None
    return MlflowClient


def require_mlflow(config: ExperimentConfig) -> None:
    """Fail before a run starts when `train.tracker` is mlflow but the package is missing."""
    if config.train.tracker == "mlflow":
        client_class()


SQLITE = "sqlite:///"


def _sqlite_file(uri: str) -> Path | None:
    """The file of a SQLite store's URI (None for other stores and an in-memory one)."""
    if not uri.startswith(SQLITE) or uri[len(SQLITE) :] in ("", ":memory:"):
        return None
    return Path(uri[len(SQLITE) :])


def tracking_uri(configured: str | None, environ: Mapping[str, str]) -> str:
    """`train.tracking_uri`, else $MLFLOW_TRACKING_URI, else the working directory's SQLite
    store; a SQLite file as an absolute path, so that a resume from elsewhere finds it."""
    uri = configured or environ.get(URI_VARIABLE) or SQLITE + DEFAULT_STORE
    file = _sqlite_file(uri)
    return uri if file is None else SQLITE + file.resolve().as_posix()


def _artifact_root(uri: str) -> str | None:
    """A SQLite store keeps its experiments' artifacts in `mlruns/` beside its file (MLflow
    itself would use the working directory's); other stores choose their own."""
    file = _sqlite_file(uri)
    return None if file is None else (file.resolve().parent / ARTIFACTS).as_uri()


@dataclass(frozen=True)
class Store:
    """An opened MLflow store and the experiment this run logs into."""

    client: Any  # MlflowClient
    uri: str
    experiment_id: str


def open_store(config: ExperimentConfig, uri: str | None = None) -> Store | None:
    """The configured store with its experiment (created when new), or None when the run is not
    tracked; a `ConfigError` naming the store when it cannot be opened."""
    train = config.train
    if train.tracker != "mlflow":
        return None
    client_type = client_class()
    uri = uri or tracking_uri(train.tracking_uri, os.environ)
    name = train.experiment_name or config.dataset_name or "cnnlab"
    try:
        client = client_type(tracking_uri=uri)
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            experiment_id = client.create_experiment(name, artifact_location=_artifact_root(uri))
        elif experiment.lifecycle_stage == "deleted":
            raise ConfigError(
                f"train.experiment_name: the MLflow experiment {name!r} is deleted in {uri}; "
                f"restore it or name another"
            )
        else:
            experiment_id = experiment.experiment_id
    except ConfigError:
        raise
    except Exception as error:  # MLflow raises its own, SQLAlchemy's and OS errors alike
        raise ConfigError(
            f"train.tracking_uri: cannot open the MLflow store {uri!r}: "
            f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}; "
            f"expected a writable store such as sqlite:///mlflow.db"
        ) from None
    return Store(client, uri, str(experiment_id))


def open_run_store(run: RunDir, config: ExperimentConfig) -> Store | None:
    """The store a run already logs into (as `mlflow.json` names it), else the configured one."""
    if config.train.tracker != "mlflow":
        return None
    tracked = run.read_tracker_run()
    return open_store(config, tracked.tracking_uri if tracked else None)


def _numbers(values: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The mapping's numbers (not bools, not None) as `{prefix + key: float}`."""
    return {
        prefix + key: float(value)
        for key, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def _warn_on_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class MlflowTracker:
    """Logs one cnnlab run into its MLflow run; after a failure it warns once and logs no more."""

    store: Store
    warn: Warn = _warn_on_stderr
    run_id: str | None = None
    broken: bool = field(default=False, init=False)

    def _safely(self, doing: str, action: Callable[[], None], even_broken: bool = False) -> None:
        """Run `action`; a failure warns (once) and stops further logging."""
        if self.broken and not even_broken:
            return
        try:
            action()
        except Exception as error:  # a tracker's fault never stops the training
            if self.broken:
                return
            self.broken = True
            self.warn(
                f"cnnlab: warning: MLflow logging failed while {doing} ({type(error).__name__}: "
                f"{error}); the run goes on without train.tracker"
            )

    def start(self, run: RunDir) -> None:
        """Create the MLflow run (or reopen the one `mlflow.json` names) and log the params."""
        self._safely("starting the MLflow run", lambda: self._start(run))

    def _start(self, run: RunDir) -> None:
        client, tracked = self.store.client, run.read_tracker_run()
        if tracked is not None and tracked.tracking_uri == self.store.uri:
            self.run_id = tracked.run_id
            client.update_run(self.run_id, status="RUNNING")
        else:
            created = client.create_run(
                self.store.experiment_id,
                run_name=run.path.name,
                tags={"cnnlab.run_dir": str(run.path.resolve())},
            )
            self.run_id = created.info.run_id
            run.write_tracker_run(TrackerRun(self.store.uri, self.store.experiment_id, self.run_id))
        self._log_params(run)

    def _log_params(self, run: RunDir) -> None:
        """The flattened config; params never change in MLflow, so a resume that changed a key
        (`--epochs`) records the new value as the tag `config.<key>`."""
        from mlflow.entities import Param, RunTag

        client = self.store.client
        logged = client.get_run(self.run_id).data.params
        params = {key: str(value) for key, value in flat_hparams(run.read_config_data()).items()}
        new = [Param(key, value) for key, value in params.items() if key not in logged]
        changed = [
            RunTag(f"config.{key}", value)
            for key, value in params.items()
            if key in logged and logged[key] != value
        ]
        for start in range(0, len(new), PARAMS_PER_CALL):
            client.log_batch(self.run_id, params=new[start : start + PARAMS_PER_CALL])
        if changed:
            client.log_batch(self.run_id, tags=changed)

    def _log_metrics(self, values: Mapping[str, float], step: int) -> None:
        from mlflow.entities import Metric

        stamp = int(time.time() * 1000)  # milliseconds, as MLflow keeps them
        metrics = [Metric(key, value, stamp, step) for key, value in values.items()]
        self.store.client.log_batch(self.run_id, metrics=metrics)

    def log_epoch(self, row: Mapping[str, Any]) -> None:
        """One finished epoch's numbers (losses, accuracies, F1, lr, seconds) at step = epoch."""
        values = _numbers({key: value for key, value in row.items() if key != "epoch"})
        step = int(row["epoch"])
        self._safely(f"logging epoch {step}", lambda: self._log_metrics(values, step))

    def log_final(self, run: RunDir) -> None:
        """metrics.json's test metrics (`test_<key>`), final_metrics.json's numbers, and the
        figures and report as artifacts."""
        self._safely("logging the test metrics and artifacts", lambda: self._log_final(run))

    def _log_final(self, run: RunDir) -> None:
        step = int(run.read_status().get("epoch") or 0)
        values = {**_numbers(run.read_final()), **_numbers(run.read_test_metrics() or {}, "test_")}
        if values:
            self._log_metrics(values, step)
        client = self.store.client
        if run.figures.is_dir():
            client.log_artifacts(self.run_id, str(run.figures), "figures")
        for report in (run.report_html, run.report_md):
            if report.is_file():
                client.log_artifact(self.run_id, str(report))

    def end(self, run: RunDir) -> None:
        """Close the MLflow run in the state status.json gives (a resume reopens it); tried even
        after a logging failure, so that the MLflow run is not left RUNNING."""
        if self.run_id is None:
            return
        state = END_STATES.get(run.read_status().get("status"), "FAILED")
        close = partial(self.store.client.set_terminated, self.run_id, state)
        self._safely("ending the MLflow run", close, even_broken=True)


@contextmanager
def tracking(
    store: Store | None, run: RunDir, warn: Warn = _warn_on_stderr
) -> Iterator[MlflowTracker | None]:
    """The run's tracker while it trains (None when untracked), ended however the block ends."""
    if store is None:
        yield None
        return
    tracker = MlflowTracker(store, warn)
    tracker.start(run)
    try:
        yield tracker
    finally:
        tracker.end(run)
