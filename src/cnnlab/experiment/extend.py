"""Training a run further: `cnnlab train --resume RUN --epochs N`, and when there is nothing to do.

The epoch count is part of a run's plan: resuming with `--epochs N` changes the plan, and
config.yaml records it, so the run directory keeps describing itself. A finished run goes on
from last.pt to N epochs in all (optimizer, schedule position and RNG restored as in any
resume); an early-stopped run is extended the same way, from last.pt (its last epoch, not
best.pt), with its patience counted afresh.

The learning-rate schedule, a function of (iteration, total iterations), is re-planned over
the new total and picked up at the current iteration (what a schedule built from the total
steps does in Lightning when `max_epochs` grows): the run goes on as an N-epoch plan stands
at this iteration. `constant` and `step` do not depend on the total and simply continue;
warm-up, in the past, is not repeated; `cosine`, `linear` and `onecycle` jump to where the
N-epoch plan is now and decay to their end over the new epochs.
"""

from __future__ import annotations

import dataclasses

from cnnlab.config import ExperimentConfig
from cnnlab.errors import ConfigError
from cnnlab.runs import SETTLED, RunDir
from cnnlab.training.loop import History

ENDED = {"finished": "finished", "early_stopped": "stopped early after"}  # settled status -> words


def with_epochs(config: ExperimentConfig, epochs: int) -> ExperimentConfig:
    """`config` planned for `epochs` epochs (validated again, as a config file would be)."""
    return dataclasses.replace(config, train=dataclasses.replace(config.train, epochs=epochs))


def nothing_to_do(
    run: RunDir, status: str, done: int, planned: int, epochs: int | None
) -> str | None:
    """The one line saying a settled run has nothing left to train, or None when it has."""
    if status not in SETTLED or (epochs is not None and epochs > done):
        return None
    asked = "" if epochs is None else f" (--epochs {epochs} asks for no more)"
    return (
        f"run {run.path} already {ENDED[status]} {done} of {planned} epochs{asked}; nothing to "
        f"do (pass --epochs N with N above {done} to train further)"
    )


def planned_epochs(
    run: RunDir, config: ExperimentConfig, status: str, history: History, epochs: int | None
) -> int:
    """The epochs the resumed run trains to: `epochs` when given (checked against the epochs
    already trained), else its config's."""
    if epochs is None:
        return config.train.epochs
    done = len(history.epochs)
    least = done + 1 if history.partial_epoch is not None or status in SETTLED else max(done, 1)
    if epochs < least:
        part = f" and part of epoch {done + 1}" if history.partial_epoch is not None else ""
        raise ConfigError(
            f"--epochs {epochs}: run {run.path} has trained {done} epoch(s){part}; "
            f"expected at least {least}"
        )
    return epochs


def extension_line(
    status: str,
    done: int,
    before: ExperimentConfig,
    after: ExperimentConfig,
    step: int,
    lr: tuple[float, float],
) -> str:
    """What a resume with `--epochs` does (schedule included), for train.log and the console."""
    if status in SETTLED:
        line = (
            f"extend: the run {ENDED[status]} {done} of {before.train.epochs} epochs; training on "
            f"from last.pt to {after.train.epochs} epochs in all; "
        )
    else:
        line = f"resume: {done} of {before.train.epochs} epochs done, now {after.train.epochs} planned; "
    if status == "early_stopped":
        line += "patience counts afresh; "
    if after.train.epochs == before.train.epochs:
        return line + f"the {after.optim.schedule} schedule continues as planned"
    return line + (
        f"the {after.optim.schedule} schedule is re-planned over {after.train.epochs} epochs "
        f"from iteration {step} (lr {lr[0]:.3g} -> {lr[1]:.3g}); config.yaml now says "
        f"epochs: {after.train.epochs}"
    )
