"""What a checkpoint holds: a network behind its input normalisation, and its architecture record.

`Classifier` takes images scaled to [0, 1] and returns logits; its `architecture` (a plain
dict, see `models.architecture`) says how to build the network again, so a run is loaded from
its own checkpoint alone. Test-time flip averaging is not part of `forward`: evaluation asks
for it with `predict_logits(model, images, tta_flip=True)`, so hooks and exports see one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.errors import ModelError


class Normalize(nn.Module):
    """(x - mean) / std per channel, as a model's first step; mean and std are saved buffers."""

    def __init__(self, mean: Sequence[float] | np.ndarray, std: Sequence[float] | np.ndarray):
        super().__init__()
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float32))
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float32))
        if mean_t.ndim != 1 or std_t.shape != mean_t.shape:
            raise ModelError(
                f"Normalize needs mean and std of shape (C,), got {tuple(mean_t.shape)} and "
                f"{tuple(std_t.shape)}"
            )
        bad = torch.nonzero(~(std_t > 0)).flatten().tolist()
        if bad:
            raise ModelError(
                f"Normalize std must be > 0 for every channel; channel(s) {bad} have std "
                f"{std_t[bad].tolist()}"
            )
        self.register_buffer("mean", mean_t.view(1, -1, 1, 1))  # (1, C, 1, 1)
        self.register_buffer("std", std_t.view(1, -1, 1, 1))  # (1, C, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std  # (B, C, H, W)

    def extra_repr(self) -> str:
        mean = [round(v, 4) for v in self.mean.flatten().tolist()]
        std = [round(v, 4) for v in self.std.flatten().tolist()]
        return f"mean={mean}, std={std}"

    def statistics(self) -> tuple[list[float], list[float]]:
        """(mean, std) per channel as plain lists, for a checkpoint."""
        return self.mean.flatten().tolist(), self.std.flatten().tolist()


class Classifier(nn.Module):
    """A network with its input normalisation as the first step: [0, 1] images in, logits out."""

    def __init__(
        self,
        normalize: Normalize,
        net: nn.Module,
        architecture: dict[str, Any],
        in_shape: tuple[int, int, int],
    ) -> None:
        super().__init__()
        self.normalize = normalize
        self.net = net
        self.architecture = architecture  # how to build `net` again (plain data)
        self.in_shape = tuple(in_shape)  # (C, H, W) the network takes

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, K)
        return self.net(self.normalize(x))

    def record(self) -> dict[str, Any]:
        """What a checkpoint needs besides the weights to build this model again."""
        mean, std = self.normalize.statistics()
        return {
            "architecture": self.architecture,
            "in_shape": list(self.in_shape),
            "mean": mean,
            "std": std,
        }


def safe_std(std: Sequence[float] | np.ndarray) -> np.ndarray:
    """Per-channel std with zeros replaced by 1: a constant channel only has its mean removed."""
    std = np.asarray(std, dtype=np.float64)
    return np.where(std > 0, std, 1.0)


def predict_logits(model: nn.Module, images: torch.Tensor, tta_flip: bool = False) -> torch.Tensor:
    """Logits (B, K) of `images` (B, C, H, W); with `tta_flip`, the mean over each image and its
    left-right mirror (one pass over the doubled batch)."""
    if not tta_flip:
        return model(images)
    both = model(torch.cat([images, images.flip(-1)]))  # (2B, K)
    return both.view(2, images.shape[0], -1).mean(0)
