"""`fastnet`: a small, wide-early VGG-style net built for time-to-accuracy, not parameter count.

The shape follows the fast CIFAR-10 training nets (Page's ResNet-9 studies, Jordan's
airbench): a stem conv, then per width a block `conv – max-pool 2 – bn – act – conv – bn – act`
that halves the image, a global max-pool and a bias-free linear head whose logits are scaled
down (`head_scale`), which keeps early updates gentle at high learning rates.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from cnnlab.errors import ModelError
from cnnlab.models import blocks
from cnnlab.models import options as opt
from cnnlab.models.blocks import ACTIVATIONS, check_input_size


class Scale(nn.Module):
    """Multiply by a constant: the logit temperature of the head."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor

    def extra_repr(self) -> str:
        return f"factor={self.factor:g}"


def _block(c_in: int, width: int, act: str) -> nn.Sequential:
    """conv – max-pool 2 – bn – act – conv – bn – act: one stage, halving the image."""
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(c_in, width, 3, padding=1, bias=False),  # (N, w, H, W)
            pool=nn.MaxPool2d(2),  # (N, w, H/2, W/2): pooling before bn/act costs 4x less
            bn1=nn.BatchNorm2d(width),
            act1=blocks.activation(act),
            conv2=nn.Conv2d(width, width, 3, padding=1, bias=False),
            bn2=nn.BatchNorm2d(width),
            act2=blocks.activation(act),
        )
    )


class Residual(nn.Module):
    """x + branch(x): the identity shortcut around two conv-bn-act layers of the same width."""

    def __init__(self, width: int, act: str) -> None:
        super().__init__()
        self.branch = nn.Sequential(
            OrderedDict(
                conv1=nn.Conv2d(width, width, 3, padding=1, bias=False),
                bn1=nn.BatchNorm2d(width),
                act1=blocks.activation(act),
                conv2=nn.Conv2d(width, width, 3, padding=1, bias=False),
                bn2=nn.BatchNorm2d(width),
                act2=blocks.activation(act),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.branch(x)  # (N, width, h, w)


def _positive_number(value: object) -> float | None:
    """`value` (a number or its text, as `--option` passes it) as a float > 0, else None."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        return None
    return float(value)


def fastnet(
    in_shape: tuple[int, int, int],
    num_classes: int,
    *,
    stem: int = 32,
    stem_stride: int = 1,
    widths: object = (64, 128, 256),
    activation: str = "gelu",
    head_scale: float = 0.125,
    residual: object = (),
) -> nn.Module:
    """stem conv-bn-act – [conv-pool-bn-act-conv-bn-act] per width – global max-pool – linear.

    `residual` lists the stages (1-based) that end with a residual pair of conv-bn-act layers,
    as in the ResNet-9 of the fast CIFAR-10 studies (stages 1 and 3 there): more depth where
    it pays, at the resolution after pooling. `stem_stride` 2 halves the image in the stem, so
    no layer runs at full resolution: on small grey digits that stage is most of a step's time.
    """
    stem = opt.positive_int("fastnet", "stem", stem)
    stem_stride = opt.positive_int("fastnet", "stem_stride", stem_stride)
    widths = opt.int_tuple("fastnet", "widths", widths)
    act = opt.choice("fastnet", "activation", activation, tuple(ACTIVATIONS))
    head_scale = _positive_number(head_scale)
    if head_scale is None:
        raise ModelError(
            f"model 'fastnet': option 'head_scale' must be a number > 0, got {head_scale!r}"
        )
    residual = opt.int_tuple("fastnet", "residual", residual, allow_empty=True)
    outside = [stage for stage in residual if stage > len(widths)]
    if outside:
        raise ModelError(
            f"model 'fastnet': option 'residual' names stage(s) {outside}, but there are only "
            f"{len(widths)} stages (one per width, numbered from 1)"
        )
    # a 3x3 conv with padding 1 and stride s gives ceil(side / s), then each stage halves
    check_input_size("fastnet", in_shape, lambda side: -(-side // stem_stride) >> len(widths))
    C = in_shape[0]
    layers: OrderedDict[str, nn.Module] = OrderedDict(
        stem=nn.Sequential(
            OrderedDict(
                conv=nn.Conv2d(
                    C, stem, 3, stride=stem_stride, padding=1, bias=False
                ),  # (N, stem, H/s, W/s)
                bn=nn.BatchNorm2d(stem),
                act=blocks.activation(act),
            )
        )
    )
    c_in = stem
    for i, width in enumerate(widths, start=1):
        block = _block(c_in, width, act)  # (N, width, ·/2, ·/2)
        if i in residual:
            block.add_module("residual", Residual(width, act))
        layers[f"layer{i}"] = block
        c_in = width
    layers["pool"] = nn.AdaptiveMaxPool2d(1)  # (N, c, 1, 1)
    layers["flatten"] = blocks.Flatten()  # (N, c)
    layers["fc"] = nn.Linear(c_in, num_classes, bias=False)  # (N, K)
    layers["scale"] = Scale(head_scale)
    return nn.Sequential(layers)
