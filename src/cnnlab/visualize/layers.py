"""Finding a model's convolution layers by their `named_modules` names."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from cnnlab.errors import ModelError


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every `nn.Conv2d` of `model` with its `named_modules` name, in registration order."""
    return [(name, module) for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]


def find_layers(model: nn.Module, names: Sequence[str]) -> list[tuple[str, nn.Module]]:
    """The modules called `names` (as `named_modules` spells them; `net.` may be left out)."""
    modules = dict(model.named_modules())
    found = []
    for name in names:
        key = name if name in modules else f"net.{name}"
        if not name or key not in modules:
            convs = [n for n, _ in conv_layers(model)]
            raise ModelError(
                f"the model has no layer named {name!r}; its conv layers are {convs} "
                f"(any name from named_modules() works)"
            )
        found.append((key, modules[key]))
    return found


def first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The first conv layer (the one that looks at pixels), or a ModelError naming the model."""
    convs = conv_layers(model)
    if not convs:
        raise ModelError(f"model {type(_net(model)).__name__} has no Conv2d layer")
    return convs[0]


def last_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    """The last conv layer (Grad-CAM's target), or a ModelError naming the model."""
    convs = conv_layers(model)
    if not convs:
        raise ModelError(f"model {type(_net(model)).__name__} has no Conv2d layer")
    return convs[-1]


def _net(model: nn.Module) -> nn.Module:
    """The network inside a cnnlab Classifier (or `model` itself)."""
    return getattr(model, "net", model)
