"""Optimizers and per-iteration learning-rate schedules built from an `OptimConfig`.

Two tables are the extension points: `OPTIMIZERS` (name -> factory) and `SCHEDULES` (name ->
factor function). Adding an optimizer or a schedule is one entry in one of them; `check_optim`
checks a config's names against them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from cnnlab.config import OptimConfig
from cnnlab.errors import ConfigError
from cnnlab.training.eager_optim import eager
from cnnlab.training.plateau import PlateauLR

ONECYCLE_START_FRACTION = 1 / 25  # one-cycle starts at lr/25 (as in fastai and torch)
ONECYCLE_WARMUP_FRACTION = 0.25  # of all steps, when warmup_epochs is 0
WARMUP_START_FRACTION = 0.01  # linear warm-up starts at lr/100

# (params, config, fused) -> optimizer; `fused` is {"fused": True} where the device has
# one-kernel steps, else {}; factories of optimizers without fused kernels ignore it
OptimizerFactory = Callable[[Iterable, OptimConfig, dict[str, Any]], torch.optim.Optimizer]
# (step, total_steps, steps_per_epoch, config) -> multiplier of the peak learning rate
ScheduleFactor = Callable[[int, int, int, OptimConfig], float]
# (step, t, steps_per_epoch, config) -> multiplier after the warm-up; t: 0 -> 1 over its steps
Decay = Callable[[int, float, int, OptimConfig], float]


def has_fused_kernels(device: torch.device) -> bool:
    """Whether this torch has one-kernel (fused) SGD/Adam/AdamW/Adagrad steps for `device`.

    On the CPU (torch >= 2.4) they cut Adam's step on the 3.3M-parameter MNIST net from about
    20 ms to 2 ms: the per-tensor loop of the default step was a quarter of training time.
    """
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices
    except ImportError:  # an older torch: CUDA only
        return device.type == "cuda"
    if device.type == "cpu" and tuple(map(int, torch.__version__.split(".")[:2])) < (2, 4):
        return False
    return device.type in _get_fused_kernels_supported_devices()


def _sgd(params: Iterable, config: OptimConfig, fused: dict[str, Any]) -> torch.optim.Optimizer:
    return eager(torch.optim.SGD)(
        params,
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
        **fused,
    )


def _adam(params: Iterable, config: OptimConfig, fused: dict[str, Any]) -> torch.optim.Optimizer:
    return eager(torch.optim.Adam)(
        params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, **fused
    )


def _adamw(params: Iterable, config: OptimConfig, fused: dict[str, Any]) -> torch.optim.Optimizer:
    return eager(torch.optim.AdamW)(
        params, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay, **fused
    )


def _adagrad(params: Iterable, config: OptimConfig, fused: dict[str, Any]) -> torch.optim.Optimizer:
    return eager(torch.optim.Adagrad)(
        params, lr=config.lr, weight_decay=config.weight_decay, **fused
    )


def _adadelta(
    params: Iterable, config: OptimConfig, fused: dict[str, Any]
) -> torch.optim.Optimizer:
    return eager(torch.optim.Adadelta)(params, lr=config.lr, weight_decay=config.weight_decay)


def _rmsprop(params: Iterable, config: OptimConfig, fused: dict[str, Any]) -> torch.optim.Optimizer:
    return eager(torch.optim.RMSprop)(
        params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )


OPTIMIZERS: dict[str, OptimizerFactory] = {
    "sgd": _sgd,
    "adam": _adam,
    "adamw": _adamw,
    "adagrad": _adagrad,
    "adadelta": _adadelta,  # no fused kernel in torch
    "rmsprop": _rmsprop,  # no fused kernel in torch
}


def _cosine_down(t: float, end: float) -> float:
    """Half a cosine from 1 at t = 0 down to `end` at t = 1."""
    return end + (1 - end) * (1 + math.cos(math.pi * t)) / 2


def _after_warmup(decay: Decay) -> ScheduleFactor:
    """The schedule `decay`, preceded by `config.warmup_epochs` of linear warm-up from lr/100."""

    def factor(step: int, total_steps: int, steps_per_epoch: int, config: OptimConfig) -> float:
        warmup_steps = round(config.warmup_epochs * steps_per_epoch)
        if step < warmup_steps:
            return WARMUP_START_FRACTION + (1 - WARMUP_START_FRACTION) * step / warmup_steps
        t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return decay(step, t, steps_per_epoch, config)

    return factor


def _constant(step: int, t: float, steps_per_epoch: int, config: OptimConfig) -> float:
    return 1.0


def _step(step: int, t: float, steps_per_epoch: int, config: OptimConfig) -> float:
    """Times `gamma` every `step_size` epochs, counted from the first step (warm-up included)."""
    return config.gamma ** (step // steps_per_epoch // config.step_size)


def _cosine(step: int, t: float, steps_per_epoch: int, config: OptimConfig) -> float:
    return _cosine_down(t, config.final_lr_fraction)


def _linear(step: int, t: float, steps_per_epoch: int, config: OptimConfig) -> float:
    return 1 - (1 - config.final_lr_fraction) * t


def _onecycle(step: int, total_steps: int, steps_per_epoch: int, config: OptimConfig) -> float:
    """A cosine rise from lr/25 over the warm-up (or a quarter of all steps), then a cosine
    fall to `final_lr_fraction`; it replaces the linear warm-up."""
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    rise = warmup_steps or max(1, round(ONECYCLE_WARMUP_FRACTION * total_steps))
    if step < rise:
        t = step / rise
        return (
            ONECYCLE_START_FRACTION
            + (1 - ONECYCLE_START_FRACTION) * (1 - math.cos(math.pi * t)) / 2
        )
    t = min(1.0, (step - rise) / max(1, total_steps - rise))
    return _cosine_down(t, config.final_lr_fraction)


SCHEDULES: dict[str, ScheduleFactor] = {
    "constant": _after_warmup(_constant),
    "step": _after_warmup(_step),
    "cosine": _after_warmup(_cosine),
    "onecycle": _onecycle,
    "linear": _after_warmup(_linear),
    # constant after the warm-up, times the cuts of `PlateauLR.observe` (once per epoch)
    "plateau": _after_warmup(_constant),
}


def _check_name(key: str, value: str, table: dict[str, Any]) -> None:
    if value not in table:
        raise ConfigError(f"{key}: expected one of {', '.join(table)}, got {value!r}")


def check_optim(config: OptimConfig) -> None:
    """Raise `ConfigError` naming the key unless the optimizer and schedule are in the tables."""
    _check_name("optim.optimizer", config.optimizer, OPTIMIZERS)
    _check_name("optim.schedule", config.schedule, SCHEDULES)


def build_optimizer(
    params: Iterable, config: OptimConfig, device: torch.device
) -> torch.optim.Optimizer:
    """The optimizer `config.optimizer` over `params` (tensors, or parameter groups whose own
    `lr` overrides `config.lr`, as transfer's discriminative learning rates do)."""
    check_optim(config)
    fused = {"fused": True} if has_fused_kernels(device) else {}
    return OPTIMIZERS[config.optimizer](params, config, fused)


def lr_factor(step: int, total_steps: int, steps_per_epoch: int, config: OptimConfig) -> float:
    """The multiplier of the peak learning rate at iteration `step` (0-based)."""
    return SCHEDULES[config.schedule](step, total_steps, steps_per_epoch, config)


def build_schedule(
    optimizer: torch.optim.Optimizer, config: OptimConfig, steps_per_epoch: int, epochs: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """A scheduler stepped once per iteration; its state is just the step count.

    A parameter group with a `start_epoch` key keeps learning rate 0 until that epoch (a
    two-stage transfer run trains its head alone first), then follows the schedule.
    """
    check_optim(config)
    total = steps_per_epoch * epochs

    def group_factor(start_epoch: float):
        start = round(start_epoch * steps_per_epoch)
        return lambda step: 0.0 if step < start else lr_factor(step, total, steps_per_epoch, config)

    factors = [group_factor(group.get("start_epoch", 0)) for group in optimizer.param_groups]
    if config.schedule == "plateau":
        return PlateauLR(
            optimizer,
            factors,
            factor=config.plateau_factor,
            patience=config.plateau_patience,
            min_lr=config.min_lr,
        )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors)


def set_schedule_step(scheduler: torch.optim.lr_scheduler.LambdaLR, step: int) -> None:
    """Put a schedule from `build_schedule` at iteration `step`: its count, and each group's
    learning rate as its factor gives it there (a resume that re-plans or rescales it)."""
    scheduler.last_epoch = step
    if isinstance(scheduler, PlateauLR):  # the cuts so far are kept
        rates = scheduler.lrs_at(step)
    else:
        rates = [
            base * factor(step)
            for factor, base in zip(scheduler.lr_lambdas, scheduler.base_lrs, strict=True)
        ]
    for group, rate in zip(scheduler.optimizer.param_groups, rates, strict=True):
        group["lr"] = rate
    scheduler._last_lr = [group["lr"] for group in scheduler.optimizer.param_groups]
