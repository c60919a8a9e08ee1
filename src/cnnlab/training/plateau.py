"""The `plateau` schedule: a per-iteration schedule whose learning rate is also cut once per epoch.

`PlateauLR` is a `LambdaLR` (warm-up and a transfer group's `start_epoch` still follow the
iteration count) times a scale that `observe` multiplies by `factor` when the monitored metric
has not improved for `patience` epochs, never below `min_lr`. Its counters are plain attributes,
so `state_dict` carries them and a resumed run goes on with the same learning rate and counts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class PlateauLR(torch.optim.lr_scheduler.LambdaLR):
    """Stepped per iteration like the other schedules, and told each epoch's metric (`observe`)."""

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        lr_lambdas: list[Callable[[int], float]],
        *,
        factor: float,
        patience: int,
        min_lr: float,
    ) -> None:
        self.factor, self.patience, self.min_lr = factor, patience, min_lr
        self.scale = 1.0  # the product of the cuts so far
        self.best: float | None = None
        self.bad_epochs = 0  # epochs since the best (or since the last cut)
        super().__init__(optimizer, lr_lambdas)

    def lrs_at(self, step: int) -> list[float]:
        """Each group's learning rate at iteration `step` under the current scale; the floor
        `min_lr` never lifts a rate above what the unscaled schedule gives (warm-up, frozen)."""
        rates = []
        for base, factor in zip(self.base_lrs, self.lr_lambdas, strict=True):
            planned = base * factor(step)
            rates.append(max(planned * self.scale, min(self.min_lr, planned)))
        return rates

    def get_lr(self) -> list[float]:
        return self.lrs_at(self.last_epoch)

    def observe(self, value: float, lower_is_better: bool) -> bool:
        """Count an epoch's monitored `value`; True when it cut the learning rate."""
        improved = self.best is None or (
            value < self.best if lower_is_better else value > self.best
        )
        if improved:
            self.best, self.bad_epochs = value, 0
            return False
        self.bad_epochs += 1
        if self.bad_epochs < self.patience:
            return False
        self.scale *= self.factor
        self.bad_epochs = 0
        for group, rate in zip(
            self.optimizer.param_groups, self.lrs_at(self.last_epoch), strict=True
        ):
            group["lr"] = rate
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
        return True
