"""One search trial: train a sampled config into its run directory, reporting each epoch to Optuna.

The run directory is filled as by `cnnlab train` (checkpoints, metrics, log, status); a pruned
trial stops after the epoch that pruned it and its status says `failed` with reason `pruned`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna

from cnnlab.config import ExperimentConfig
from cnnlab.errors import TrainingError
from cnnlab.experiment import engine
from cnnlab.training.loop import History

PRUNED = "pruned"


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial's run ended: its directory, status and objective value (None when pruned)."""

    run_dir: Path
    status: str
    value: float | None


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
    trial.set_user_attr("run_dir", str((Path(config.out) / config.run_name).resolve()))

    def report(row: dict[str, Any]) -> str | None:
        value = row.get(metric)
        if value is None:
            return None
        trial.report(float(value), row["epoch"])
        return PRUNED if trial.should_prune() else None

    result = engine.train(config, quiet=True, on_epoch=report, report=False)
    trial.set_user_attr("run_dir", str(result.run_dir.resolve()))
    if result.status == PRUNED:
        raise optuna.TrialPruned(f"pruned after epoch {len(result.history.epochs)}")
    return TrialOutcome(result.run_dir, result.status, best_of(result.history, metric, direction))
