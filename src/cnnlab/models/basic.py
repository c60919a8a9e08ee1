"""The small classic nets: fully-connected baselines, one-conv nets, a deep conv stack, LeNet-5.

Every builder is `builder(in_shape, num_classes, **options) -> nn.Module`, checks its options
and the input size, and returns an `nn.Sequential` with named children ending in `fc`.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from cnnlab.models import blocks
from cnnlab.models import options as opt
from cnnlab.models.blocks import (
    ACTIVATIONS,
    check_input_size,
    conv_bn_act,
    conv_out,
    linear_stack,
    same_pad,
)

POOL_KINDS = ("max", "avg", "conv")  # conv: the block's second conv has stride 2, no pool layer


def fc_only(in_shape: tuple[int, int, int], num_classes: int) -> nn.Module:
    """flatten – linear: the fully-connected baseline (the course's FC_only)."""
    C, H, W = in_shape
    return nn.Sequential(
        OrderedDict(flatten=blocks.Flatten(), fc=nn.Linear(C * H * W, num_classes))  # (N, K)
    )


def mlp(
    in_shape: tuple[int, int, int],
    num_classes: int,
    *,
    hidden: object = (512, 256),
    activation: str = "relu",
    dropout: float = 0.0,
    batch_norm: bool = False,
) -> nn.Module:
    """flatten – [linear – bn? – act – dropout?] per hidden width – linear."""
    hidden = opt.int_tuple("mlp", "hidden", hidden, allow_empty=True)
    act = opt.choice("mlp", "activation", activation, tuple(ACTIVATIONS))
    rate = opt.probability("mlp", "dropout", dropout)
    bn = opt.flag("mlp", "batch_norm", batch_norm)
    C, H, W = in_shape
    layers: OrderedDict[str, nn.Module] = OrderedDict(flatten=blocks.Flatten())  # (N, C·H·W)
    layers.update(linear_stack(C * H * W, hidden, num_classes, act, rate, bn))
    return nn.Sequential(layers)


def conv1(
    in_shape: tuple[int, int, int], num_classes: int, *, filters: int = 32, kernel: int = 3
) -> nn.Module:
    """conv (same padding) – ReLU – 2x2 max-pool halving the image – linear."""
    filters = opt.positive_int("conv1", "filters", filters)
    kernel = opt.positive_int("conv1", "kernel", kernel)
    pad = same_pad(kernel)
    side = lambda s: conv_out(s, kernel, 1, pad) // 2  # noqa: E731
    check_input_size("conv1", in_shape, side)
    C, H, W = in_shape
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(C, filters, kernel, padding=pad),  # (N, F, H, W)
            relu=nn.ReLU(),
            pool=nn.MaxPool2d(2),  # (N, F, H/2, W/2)
            flatten=blocks.Flatten(),
            fc=nn.Linear(filters * side(H) * side(W), num_classes),  # (N, K)
        )
    )


def convnet(
    in_shape: tuple[int, int, int],
    num_classes: int,
    *,
    filters: int = 32,
    kernel: int = 7,
    hidden: int = 100,
) -> nn.Module:
    """conv(7x7, 32, same) – ReLU – 2x2 max-pool – affine(100) – ReLU – affine (CS231n's net)."""
    filters = opt.positive_int("convnet", "filters", filters)
    kernel = opt.positive_int("convnet", "kernel", kernel)
    hidden = opt.positive_int("convnet", "hidden", hidden)
    pad = same_pad(kernel)
    side = lambda s: conv_out(s, kernel, 1, pad) // 2  # noqa: E731
    check_input_size("convnet", in_shape, side)
    C, H, W = in_shape
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(C, filters, kernel, padding=pad),  # (N, F, H, W)
            relu1=nn.ReLU(),
            pool=nn.MaxPool2d(2),  # (N, F, H/2, W/2)
            flatten=blocks.Flatten(),
            fc1=nn.Linear(filters * side(H) * side(W), hidden),  # (N, hidden)
            relu2=nn.ReLU(),
            fc=nn.Linear(hidden, num_classes),  # (N, K)
        )
    )


def _deep_stage(
    c_in: int, width: int, kernel: int, batch_norm: bool, pool: str, act: str
) -> nn.Sequential:
    """conv – bn? – act – conv – bn? – act – pool: one stage that halves the image."""
    layers = conv_bn_act(c_in, width, kernel, 1, batch_norm, act, suffix="1")
    second_stride = 2 if pool == "conv" else 1
    layers.update(conv_bn_act(width, width, kernel, second_stride, batch_norm, act, suffix="2"))
    if pool == "max":
        layers["pool"] = nn.MaxPool2d(2)
    elif pool == "avg":
        layers["pool"] = nn.AvgPool2d(2)
    return nn.Sequential(layers)


def convnet_deep(
    in_shape: tuple[int, int, int],
    num_classes: int,
    *,
    widths: object = (32, 64, 128),
    kernel: int = 3,
    hidden: object = (256,),
    dropout: float = 0.0,
    batch_norm: bool = True,
    pool: str = "max",
    activation: str = "relu",
) -> nn.Module:
    """[conv-bn?-act-conv-bn?-act-pool] per width – [affine-act-dropout?] per hidden – affine."""
    widths = opt.int_tuple("convnet_deep", "widths", widths)
    kernel = opt.positive_int("convnet_deep", "kernel", kernel)
    hidden = opt.int_tuple("convnet_deep", "hidden", hidden, allow_empty=True)
    rate = opt.probability("convnet_deep", "dropout", dropout)
    bn = opt.flag("convnet_deep", "batch_norm", batch_norm)
    pool = opt.choice("convnet_deep", "pool", pool, POOL_KINDS)
    act = opt.choice("convnet_deep", "activation", activation, tuple(ACTIVATIONS))
    pad = same_pad(kernel)

    def side(s: int) -> int:
        for _ in widths:
            s = conv_out(s, kernel, 1, pad)
            s = conv_out(s, kernel, 2, pad) if pool == "conv" else conv_out(s, kernel, 1, pad) // 2
            if s < 1:
                return s
        return s

    check_input_size("convnet_deep", in_shape, side)
    C, H, W = in_shape
    stages: OrderedDict[str, nn.Module] = OrderedDict()
    c_in = C
    for i, width in enumerate(widths, start=1):
        stages[f"stage{i}"] = _deep_stage(
            c_in, width, kernel, bn, pool, act
        )  # (N, width, ·/2, ·/2)
        c_in = width
    head: OrderedDict[str, nn.Module] = OrderedDict(flatten=blocks.Flatten())
    head.update(linear_stack(c_in * side(H) * side(W), hidden, num_classes, act, rate, bn))
    stages["head"] = nn.Sequential(head)  # (N, K)
    return nn.Sequential(stages)


def lenet5(
    in_shape: tuple[int, int, int],
    num_classes: int,
    *,
    activation: str = "tanh",
    pool: str = "avg",
    padding: int = 2,
) -> nn.Module:
    """LeNet-5: conv(6,5) – pool – conv(16,5) – pool – fc 120 – fc 84 – fc; padding 2 for 28x28."""
    act = opt.choice("lenet5", "activation", activation, tuple(ACTIVATIONS))
    pool = opt.choice("lenet5", "pool", pool, ("avg", "max"))
    padding = opt.non_negative_int("lenet5", "padding", padding)
    side = lambda s: conv_out(conv_out(s, 5, 1, padding) // 2, 5) // 2  # noqa: E731
    check_input_size("lenet5", in_shape, side)
    C, H, W = in_shape
    pool_layer = nn.AvgPool2d if pool == "avg" else nn.MaxPool2d
    return nn.Sequential(
        OrderedDict(
            conv1=nn.Conv2d(C, 6, 5, padding=padding),  # (N, 6, H+2p-4, W+2p-4)
            act1=blocks.activation(act),
            pool1=pool_layer(2),
            conv2=nn.Conv2d(6, 16, 5),
            act2=blocks.activation(act),
            pool2=pool_layer(2),  # (N, 16, h, w)
            flatten=blocks.Flatten(),
            fc1=nn.Linear(16 * side(H) * side(W), 120),
            act3=blocks.activation(act),
            fc2=nn.Linear(120, 84),
            act4=blocks.activation(act),
            fc=nn.Linear(84, num_classes),  # (N, K)
        )
    )
