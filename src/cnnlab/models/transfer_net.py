"""The structure of a transfer network: `adapt` – `backbone` – `head`.

The backbone is a pretrained network with its old head (the last `nn.Linear` giving its class
scores) replaced by an identity, so the parameter names say what is backbone and what is
head. `adapt` brings the (already normalised) images to what the backbone takes:

- channels: a grayscale image is *repeated* to three channels for an RGB backbone, rather
  than summing the first conv's weights over its input channels. Repeating gives exactly
  the function the backbone computes on a gray RGB image, with the backbone's own per-channel
  normalisation; summing weights would be exact only if the three channel statistics were
  equal, and costs the same after the first conv. RGB into a grayscale backbone takes the
  ITU-R 601 luminance.
- size (`model.resize`): bilinear (antialiased) resizing to the backbone's (H, W). Resizing
  is linear with weights summing to one, so it commutes with the per-channel normalisation.

Where the weights come from (a run, a weights file, ImageNet) is `cnnlab.transfer`'s concern;
this module only builds the structure, so a checkpoint of it loads from `models` alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.errors import ModelError

LUMA = (0.299, 0.587, 0.114)  # ITU-R 601-2, as Pillow's convert("L"); sums to 1


class InputAdapter(nn.Module):
    """Normalised images brought to the backbone's channel count and, optionally, its (H, W)."""

    def __init__(self, channels: int, size: tuple[int, int] | None = None) -> None:
        super().__init__()
        self.channels = channels
        self.size = tuple(size) if size is not None else None
        self.register_buffer("luma", torch.tensor(LUMA).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, channels, H', W')
        if x.shape[1] != self.channels:
            if x.shape[1] == 1:
                x = x.expand(-1, self.channels, -1, -1)  # gray repeated: (N, 3, H, W)
            else:
                x = (x * self.luma.to(x.dtype)).sum(dim=1, keepdim=True)  # (N, 1, H, W)
        if self.size is not None and tuple(x.shape[-2:]) != self.size:
            x = F.interpolate(
                x, size=self.size, mode="bilinear", align_corners=False, antialias=True
            )  # (N, channels, *size)
        return x

    def extra_repr(self) -> str:
        return f"channels={self.channels}, size={self.size}"


class TransferNet(nn.Module):
    """adapt – backbone – head: a pretrained network with a new head for new classes."""

    def __init__(
        self, adapt: InputAdapter, backbone: nn.Module, head: nn.Linear, frozen: bool = False
    ) -> None:
        super().__init__()
        self.adapt = adapt
        self.backbone = backbone
        self.head = head
        self.frozen = frozen  # linear probe: the backbone never leaves eval mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, K)
        return self.head(self.backbone(self.adapt(x)))

    def train(self, mode: bool = True) -> TransferNet:
        """Set the mode; a frozen backbone stays in eval (batch norm statistics fixed, no dropout)."""
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self

    def extra_repr(self) -> str:
        return f"frozen={self.frozen}"


def head_name(net: nn.Module, num_classes: int, description: str = "the backbone") -> str:
    """The `named_modules` name of the network's head: its last `nn.Linear` with `num_classes` outputs."""
    names = [
        name
        for name, module in net.named_modules()
        if isinstance(module, nn.Linear) and module.out_features == num_classes and name
    ]
    if not names:
        raise ModelError(
            f"{description} ({type(net).__name__}) has no head to replace: transfer needs its "
            f"class scores to come from an nn.Linear layer with {num_classes} outputs"
        )
    return names[-1]


def replace_module(root: nn.Module, name: str, module: nn.Module) -> None:
    """Put `module` where `root`'s submodule `name` (dotted) is."""
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, module)
