"""The model registry: a plain dict from name to builder, and `build_model` that checks the call."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from cnnlab.errors import ModelError
from cnnlab.models import basic, fastnet, resnet
from cnnlab.models.spec import spec_model
from cnnlab.models.spec_parse import is_spec_file
from cnnlab.models.user import is_user_model, load_user_model

Builder = Callable[..., nn.Module]  # builder(in_shape, num_classes, **options) -> nn.Module


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: its builder and a one-line description."""

    builder: Builder
    description: str


MODELS: dict[str, ModelEntry] = {
    "fc_only": ModelEntry(
        basic.fc_only, "flatten + one linear layer: the fully-connected baseline"
    ),
    "mlp": ModelEntry(
        basic.mlp, "flatten + hidden linear layers (hidden, activation, dropout, batch_norm)"
    ),
    "conv1": ModelEntry(
        basic.conv1, "one conv + ReLU + 2x2 max-pool halving the image + linear (filters, kernel)"
    ),
    "convnet": ModelEntry(
        basic.convnet,
        "conv 7x7x32 - ReLU - max-pool 2 - affine 100 - ReLU - affine (filters, kernel, hidden)",
    ),
    "convnet_deep": ModelEntry(
        basic.convnet_deep,
        "[conv-bn-relu-conv-bn-relu-pool] x N - [affine] x M (widths, kernel, hidden, dropout, "
        "batch_norm, pool=max|avg|conv, activation)",
    ),
    "lenet5": ModelEntry(
        basic.lenet5,
        "LeNet-5: conv 6 - pool - conv 16 - pool - fc 120 - fc 84 - fc (activation, pool, padding)",
    ),
    "fastnet": ModelEntry(
        fastnet.fastnet,
        "stem conv - [conv-pool-bn-act-conv-bn-act] x N - max-pool - linear: built for speed "
        "(stem, stem_stride, widths, activation, head_scale, residual)",
    ),
    "resnet18": ModelEntry(
        resnet.resnet18,
        "ResNet-18 built from BasicBlocks, torchvision names (stem=auto|imagenet|cifar)",
    ),
    "resnet34": ModelEntry(
        resnet.resnet34,
        "ResNet-34 built from BasicBlocks, torchvision names (stem=auto|imagenet|cifar)",
    ),
    "spec": ModelEntry(
        spec_model,
        "a layer list: spec=FILE.yaml or spec='conv(32,5,pad=2) relu pool(2) flatten linear'",
    ),
}
ALIASES: dict[str, str] = {"dnn": "mlp", "grayscale1conv": "conv1"}


def option_names(builder: Builder) -> tuple[str, ...]:
    """The keyword-only options a builder accepts."""
    params = inspect.signature(builder).parameters.values()
    return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


def list_models() -> list[tuple[str, str]]:
    """(name, description) of every registered model, aliases noted in the description."""
    aliases: dict[str, list[str]] = {}
    for alias, target in ALIASES.items():
        aliases.setdefault(target, []).append(alias)
    return [
        (
            name,
            entry.description
            + (f" [alias: {', '.join(aliases[name])}]" if name in aliases else ""),
        )
        for name, entry in MODELS.items()
    ]


def _check_call(in_shape: object, num_classes: object) -> tuple[int, int, int]:
    """`in_shape` as a (C, H, W) tuple of positive ints; `num_classes` a positive int."""
    shape = tuple(in_shape) if isinstance(in_shape, tuple | list) else ()
    if len(shape) != 3 or any(
        isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape
    ):
        raise ModelError(f"in_shape must be (C, H, W) with positive integers, got {in_shape!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ModelError(f"num_classes must be a positive integer, got {num_classes!r}")
    return shape  # type: ignore[return-value]


def resolve_name(name: str) -> str:
    """The registered name for `name` or its alias; an unknown name raises with the valid list."""
    canonical = ALIASES.get(name, name)
    if canonical not in MODELS:
        known = ", ".join([*MODELS, *ALIASES])
        raise ModelError(
            f"unknown model {name!r}; known models: {known}; or a layer spec file PATH.yaml, "
            f"or your own class as PATH.py:CLASS"
        )
    return canonical


def build_model(
    name: str, in_shape: tuple[int, int, int], num_classes: int, **options: object
) -> nn.Module:
    """Build model `name` for (C, H, W) inputs and `num_classes` outputs, on the CPU.

    `name` is a registered name or alias, a layer spec file `PATH.yaml` / `PATH.yml` (the same
    as `build_model("spec", ..., spec=PATH)`), or a user class `PATH.py:CLASS`.
    """
    shape = _check_call(in_shape, num_classes)
    if is_user_model(name):
        return load_user_model(name, shape, num_classes, **options)
    if is_spec_file(name):
        if options:
            raise ModelError(f"a layer spec file takes no options, got {', '.join(options)}")
        return spec_model(shape, num_classes, spec=name)
    canonical = resolve_name(name)
    builder = MODELS[canonical].builder
    accepted = option_names(builder)
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise ModelError(
            f"model {canonical!r} has no option {unknown[0]!r}; its options: "
            f"{', '.join(accepted) or 'none'}"
        )
    return builder(shape, num_classes, **options)
