"""Finding a model's convolution layers by their `named_modules` names."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from cnnlab.errors import ModelError


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    """Every `nn.Conv2d` of `model` with its `named_modules` name, in registration order."""
    return [
        (name, module) for name, module in model.named_modules() if isinstance(module, nn.Conv2d)
    ]


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


ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid)
PASS_THROUGH = (nn.BatchNorm2d, nn.Identity, nn.Dropout, nn.Dropout2d)  # between conv and act


def gradcam_layer(model: nn.Module) -> tuple[str, nn.Module]:
    """Grad-CAM's target: the activation right after the last conv (past a batch norm) when the
    two sit in one `nn.Sequential`, so the maps are the rectified features; else the conv."""
    name, conv = last_conv(model)
    parent_name, _, child = name.rpartition(".")
    parent = dict(model.named_modules())[parent_name]
    if isinstance(parent, nn.Sequential):
        names = [key for key, _ in parent.named_children()]
        for key in names[names.index(child) + 1 :]:
            module = getattr(parent, key)
            if isinstance(module, ACTIVATION_TYPES):
                return f"{parent_name}.{key}" if parent_name else key, module
            if not isinstance(module, PASS_THROUGH):
                break
    return name, conv


def _net(model: nn.Module) -> nn.Module:
    """The network inside a cnnlab Classifier (or `model` itself)."""
    return getattr(model, "net", model)
