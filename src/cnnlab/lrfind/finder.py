"""The learning-rate range test: train a throwaway model while the rate rises exponentially."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnlab.config import OptimConfig
from cnnlab.errors import ConfigError
from cnnlab.lrfind.suggest import LrSuggestion, exploded, lr_schedule, smooth, suggest_lr
from cnnlab.models.architecture import seeded


@dataclass(frozen=True)
class LrFindResult:
    """The rates tried, the raw and smoothed losses at each, and the suggestions."""

    lrs: np.ndarray  # (T,) T <= steps: the test stops early when the loss explodes
    losses: np.ndarray  # (T,)
    smoothed: np.ndarray  # (T,)
    suggestion: LrSuggestion


def _batches(loader):
    """The training batches, epoch after epoch, without end."""
    epoch = 0
    while True:
        loader.set_epoch(epoch)
        yield from loader
        epoch += 1


def lr_find(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader,
    *,
    optim: OptimConfig,
    seed: int = 0,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
) -> LrFindResult:
    """Train the throwaway `model` on `loader`'s batches while the rate rises from `start` to `end`.

    `optim` gives the label smoothing and gradient clipping (its schedule is ignored). Torch's
    global random state (dropout masks) is the same after the test as before it.
    """
    if not 0 < start < end or steps < 2:
        raise ConfigError(
            f"lr-find: need 0 < start < end and steps >= 2, got start={start}, end={end}, steps={steps}"
        )
    criterion = nn.CrossEntropyLoss(label_smoothing=optim.label_smoothing)
    model.train()
    rates = lr_schedule(start, end, steps)
    losses: list[float] = []
    with seeded(seed):  # dropout masks from the seed; the global generator is left as it was
        for lr, (images, labels) in zip(rates, _batches(loader), strict=False):
            for group in optimizer.param_groups:
                group["lr"] = float(lr)
            loss = criterion(model(images).float(), labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if optim.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), optim.grad_clip)
            optimizer.step()
            losses.append(loss.item())
            if exploded(smooth(np.array(losses))):
                break
    losses_array = np.array(losses)
    smoothed = smooth(losses_array)
    lrs = rates[: len(losses)]
    return LrFindResult(lrs, losses_array, smoothed, suggest_lr(lrs, smoothed))
