"""The training loop and what it needs: optimizers, schedules, devices, checkpoints, metrics.

(The package is `training` so that `cnnlab.train(config)`, the API verb, never collides
with a subpackage of the same name.)
"""

from cnnlab.training.checkpoint import load_checkpoint, save_checkpoint
from cnnlab.training.loop import FitHooks, History, evaluate_batches, fit
from cnnlab.training.optim import (
    OPTIMIZERS,
    SCHEDULES,
    build_optimizer,
    build_schedule,
    check_optim,
    lr_factor,
)

__all__ = [
    "FitHooks",
    "History",
    "OPTIMIZERS",
    "SCHEDULES",
    "build_optimizer",
    "build_schedule",
    "check_optim",
    "evaluate_batches",
    "fit",
    "load_checkpoint",
    "lr_factor",
    "save_checkpoint",
]
