"""Shared layers and size arithmetic used by the built-in model builders."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from cnnlab.errors import ModelError

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


class _FlattenKeepingLayout(torch.autograd.Function):
    """`x.flatten(1)` whose gradient comes back in `x`'s channels-last layout."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.shape = x.shape
        return x.flatten(1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.reshape(ctx.shape).contiguous(memory_format=torch.channels_last)


class Flatten(nn.Flatten):
    """`nn.Flatten` (same order, same state) that hands a channels-last input its gradient
    channels-last. Plain flattening returns it NCHW, and the layer below then converts it:
    a max-pool's backward spent 4-5 ms a step on that copy, half of the MNIST v1 net's step
    on 2 cores (issue #18)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.requires_grad
            and x.dim() == 4
            and (self.start_dim, self.end_dim) == (1, -1)
            and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last)
        ):
            return _FlattenKeepingLayout.apply(x)
        return super().forward(x)


MAX_CHECKED_SIZE = 1 << 14  # largest input side searched when reporting a minimum size


def conv_out(size: int, k: int, stride: int = 1, pad: int = 0) -> int:
    """Output side of a conv or pool: 1 + floor((size + 2·pad − k) / stride)."""
    return 1 + (size + 2 * pad - k) // stride


def same_pad(k: int) -> int:
    """Padding that keeps the side unchanged for an odd kernel size `k`."""
    return k // 2


def check_input_size(
    model: str, in_shape: tuple[int, int, int], final_side: Callable[[int], int]
) -> None:
    """Raise if `final_side` (image side -> last feature-map side) is below 1 for this input."""
    _, H, W = in_shape
    if final_side(H) >= 1 and final_side(W) >= 1:
        return
    minimum = next(
        (side for side in range(1, MAX_CHECKED_SIZE) if final_side(side) >= 1), MAX_CHECKED_SIZE
    )
    raise ModelError(
        f"model {model!r} needs inputs of at least {minimum}x{minimum} pixels, got {H}x{W} "
        f"(its feature map would shrink to {final_side(H)}x{final_side(W)})"
    )


def activation(name: str) -> nn.Module:
    """A fresh activation module by name (see `ACTIVATIONS`)."""
    return ACTIVATIONS[name]()


def conv_bn_act(
    c_in: int,
    c_out: int,
    k: int,
    stride: int = 1,
    batch_norm: bool = True,
    act: str = "relu",
    suffix: str = "",
) -> OrderedDict[str, nn.Module]:
    """conv (same padding) – batch norm? – activation, as named layers to splice into a block."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    layers[f"conv{suffix}"] = nn.Conv2d(
        c_in, c_out, k, stride=stride, padding=same_pad(k), bias=not batch_norm
    )
    if batch_norm:
        layers[f"bn{suffix}"] = nn.BatchNorm2d(c_out)
    layers[f"act{suffix}"] = activation(act)
    return layers


def linear_stack(
    in_features: int,
    hidden: tuple[int, ...],
    num_classes: int,
    act: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> OrderedDict[str, nn.Module]:
    """[linear – bn? – act – dropout?] per hidden width, then the final linear `fc`."""
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    width = in_features
    for i, out in enumerate(hidden, start=1):
        layers[f"fc{i}"] = nn.Linear(width, out, bias=not batch_norm)
        if batch_norm:
            layers[f"bn{i}"] = nn.BatchNorm1d(out)
        layers[f"act{i}"] = activation(act)
        if dropout > 0:
            layers[f"drop{i}"] = nn.Dropout(dropout)
        width = out
    layers["fc"] = nn.Linear(width, num_classes)
    return layers
