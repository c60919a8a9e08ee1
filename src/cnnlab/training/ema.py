"""Model EMA (`train.ema`): an exponential moving average of the weights, which evaluation uses.

After every optimizer step each averaged parameter and floating-point buffer (batch-norm
running statistics) moves `1 - d` of the way to the trained one; integer buffers (batch counts)
are copied. The average starts from the initial weights, so `d` warms up as TensorFlow's
`ExponentialMovingAverage(num_updates=…)` does, `d = min(decay, (1 + n) / (10 + n))` after `n`
updates: early averages are not dominated by the untrained start.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class WeightAverage:
    """An averaged copy of `model` (`module`, in eval mode and never trained directly)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.updates = 0  # optimizer steps averaged so far; a checkpoint keeps it for resume
        self.module = copy.deepcopy(model).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)

    def current_decay(self) -> float:
        """The decay the next update uses (warmed up over the first updates)."""
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average toward `model`'s weights after an optimizer step."""
        weight = 1 - self.current_decay()
        averaged = list(self.module.parameters())
        trained = [parameter.detach() for parameter in model.parameters()]
        for mine, theirs in zip(self.module.buffers(), model.buffers(), strict=True):
            if mine.is_floating_point():
                averaged.append(mine)
                trained.append(theirs.detach())
            else:
                mine.copy_(theirs)
        torch._foreach_lerp_(averaged, trained, weight)
        self.updates += 1

    def state_dict(self) -> dict[str, Any]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, Any], updates: int) -> None:
        self.module.load_state_dict(state)
        self.updates = updates
