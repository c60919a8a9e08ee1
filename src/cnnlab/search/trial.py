"""One search trial: train a sampled config into its run directory, reporting each epoch to Optuna.

The run directory is filled as by `cnnlab train` (checkpoints, metrics, log, status); a pruned
trial stops after the epoch that pruned it and its status says `failed` with reason `pruned`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from cnnlab.config import ExperimentConfig, dump_config
from cnnlab.errors import TrainingError
from cnnlab.runs.env import environment
from cnnlab.runs.experiment import _final_metrics, _hooks, prepare
from cnnlab.runs.rundir import new_run_dir
from cnnlab.training.loop import FitHooks, History, fit


class _Pruned(Exception):
    """Raised from the epoch hook to leave the loop when Optuna prunes the trial."""


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial's run ended: its directory, status and objective value (None when pruned)."""

    run_dir: Path
    status: str
    value: float | None


def _pruning_hooks(persist: FitHooks, trial: optuna.Trial, metric: str) -> FitHooks:
    """The run's own hooks, then a report of `metric` to the trial and a prune check."""

    def on_epoch(row: dict[str, Any], improved: bool, state) -> None:
        persist.on_epoch(row, improved, state)
        value = row.get(metric)
        if value is not None:
            trial.report(float(value), row["epoch"])
            if trial.should_prune():
                raise _Pruned

    return FitHooks(on_iterations=persist.on_iterations, on_epoch=on_epoch)


def best_of(history: History, metric: str, direction: str) -> float:
    """The best per-epoch value of `metric` (the trial's objective)."""
    values = [row[metric] for row in history.epochs if row.get(metric) is not None]
    if not values:
        raise TrainingError(f"no epoch reported {metric}; is there a validation split (data.val)?")
    return max(values) if direction == "maximize" else min(values)


def run_trial(
    config: ExperimentConfig, trial: optuna.Trial, metric: str, direction: str
) -> TrialOutcome:
    """Train `config` under `trial`; raises `optuna.TrialPruned` when pruned, `TrainingError` when diverged."""
    run = new_run_dir(Path(config.out), config.run_name)
    trial.set_user_attr("run_dir", str(run.path.resolve()))
    run.write_config(dump_config(config))
    run.write_status("running", epoch=0, epochs=config.train.epochs)
    prepared = prepare(config)
    run.write_json("env.json", environment(prepared.device, prepared.threads))
    run.log(f"run {run.path.name}: search trial {trial.number}, params {trial.params}")
    history = History()
    started = time.perf_counter()
    try:
        history = fit(
            prepared.model,
            prepared.optimizer,
            prepared.scheduler,
            prepared.train_loader,
            prepared.val_loader,
            num_classes=prepared.dataset.num_classes,
            train_config=config.train,
            optim_config=config.optim,
            device=prepared.device,
            history=history,
            hooks=_pruning_hooks(_hooks(run, history, prepared, True), trial, metric),
        )
    except _Pruned:
        epoch = len(history.epochs)
        run.write_status("failed", reason="pruned", epoch=epoch)
        run.log(f"pruned by the search after epoch {epoch}")
        raise optuna.TrialPruned(f"pruned after epoch {epoch}") from None
    except KeyboardInterrupt:
        run.write_status("interrupted", epoch=len(history.epochs))
        raise
    if history.stopped == "diverged":
        run.write_iterations(history.iterations)
        run.write_status("diverged", epoch=len(history.epochs) + 1)
        run.log("diverged: the loss became NaN, infinite or exploded; stopped")
        raise TrainingError(
            f"search trial {trial.number} ({run.path}) diverged with params {trial.params}"
        )
    metrics = _final_metrics(prepared, run)
    metrics["train_seconds"] = time.perf_counter() - started
    run.write_json("final_metrics.json", metrics)
    if "test_accuracy" in metrics:
        run.log_result(f"test accuracy: {metrics['test_accuracy']:.4f}")
    run.write_status(history.stopped, epoch=len(history.epochs), best_epoch=history.best_epoch)
    return TrialOutcome(run.path, history.stopped, best_of(history, metric, direction))
