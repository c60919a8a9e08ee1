"""Model EMA (`train.ema`): an exponential moving average of the weights, which evaluation uses.

After every optimizer step each averaged parameter moves `1 - decay` of the way to the trained
one; buffers (batch-norm statistics) are copied. The average starts from the initial weights.
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
        self.module = copy.deepcopy(model).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average toward `model`'s weights after an optimizer step."""
        averaged = list(self.module.parameters())
        trained = [parameter.detach() for parameter in model.parameters()]
        torch._foreach_lerp_(averaged, trained, 1 - self.decay)
        for mine, theirs in zip(self.module.buffers(), model.buffers(), strict=True):
            mine.copy_(theirs)

    def state_dict(self) -> dict[str, Any]:
        return self.module.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state)
