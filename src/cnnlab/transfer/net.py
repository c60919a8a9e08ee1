"""Head surgery and input adaptation: a pretrained network made into a classifier for new data.

`TransferNet` = `adapt` – `backbone` – `head`. The backbone is the pretrained network with
its old head (the last `nn.Linear` giving its class scores) replaced by an identity, so the
parameter names say what is backbone and what is head. `adapt` brings the (already
normalised) images to what the backbone takes:

- channels: a grayscale image is *repeated* to three channels for an RGB backbone, rather
  than summing the first conv's weights over its input channels. Repeating gives exactly
  the function the backbone computes on a gray RGB image, with the backbone's own per-channel
  normalisation; summing weights would be exact only if the three channel statistics were
  equal, and costs the same after the first conv. (Inside a `Classifier` the Normalize
  step's three channel statistics already broadcast a (N, 1, H, W) batch to (N, 3, H, W):
  the same repeat.) RGB into a grayscale backbone takes the ITU-R 601 luminance.
- size (`model.resize`): bilinear (antialiased) resizing to the backbone's (H, W). Resizing
  is linear with weights summing to one, so it commutes with the per-channel normalisation.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from cnnlab.config import ExperimentConfig
from cnnlab.data.loader import Normalize
from cnnlab.errors import ModelError
from cnnlab.runs.experiment import Classifier
from cnnlab.transfer.backbone import Backbone, load_backbone

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


def _replace(root: nn.Module, name: str, module: nn.Module) -> None:
    """Put `module` where `root`'s submodule `name` (dotted) is."""
    parent, _, child = name.rpartition(".")
    setattr(root.get_submodule(parent) if parent else root, child, module)


def new_head(in_features: int, num_classes: int, seed: int) -> nn.Linear:
    """A linear head initialised as `nn.Linear` does, from its own seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    head = nn.Linear(in_features, num_classes)
    bound = 1 / math.sqrt(in_features)
    with torch.no_grad():
        nn.init.kaiming_uniform_(head.weight, a=math.sqrt(5), generator=generator)
        nn.init.uniform_(head.bias, -bound, bound, generator=generator)
    return head


def _check_channels(have: int, backbone: Backbone) -> None:
    want = backbone.in_shape[0]
    if have != want and not (have == 1 or (have == 3 and want == 1)):
        raise ModelError(
            f"{backbone.description} takes {want}-channel images but the data has {have}; only "
            f"1 -> 3 channels (repeat) and 3 -> 1 (luminance) are converted"
        )


def _check_runs(net: TransferNet, in_shape: tuple[int, int, int], backbone: Backbone) -> None:
    """One forward pass on a blank image, so a size the backbone cannot take fails here."""
    C, H, W = in_shape
    training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(torch.zeros(1, C, H, W))
    except (RuntimeError, ValueError) as error:
        _, h, w = backbone.in_shape
        raise ModelError(
            f"{backbone.description} was trained on {h}x{w} images and does not run on the "
            f"data's {H}x{W}: {str(error).splitlines()[0]}; set model.resize=true to resize "
            f"the images to {h}x{w} inside the model"
        ) from None
    finally:
        net.train(training)


def transfer_net(
    backbone: Backbone,
    in_shape: tuple[int, int, int],
    num_classes: int,
    *,
    strategy: str = "finetune",
    resize: bool = False,
    seed: int = 0,
) -> TransferNet:
    """A copy of the backbone with a new `num_classes` head, for (C, H, W) inputs.

    `strategy` linear-probe freezes the backbone (no gradients, eval mode throughout).
    """
    body = copy.deepcopy(backbone.net)
    body.requires_grad_(True)
    for module in body.modules():  # a backbone that was itself a linear probe trains again
        if isinstance(module, TransferNet):
            module.frozen = False
    name = head_name(body, backbone.num_classes, backbone.description)
    old_head = body.get_submodule(name)
    _replace(body, name, nn.Identity())
    _check_channels(in_shape[0], backbone)
    size = backbone.in_shape[1:] if resize else None
    frozen = strategy == "linear-probe"
    net = TransferNet(
        InputAdapter(backbone.in_shape[0], size),
        body,
        new_head(old_head.in_features, num_classes, seed),
        frozen=frozen,
    )
    if frozen:
        body.requires_grad_(False)
    _check_runs(net, tuple(in_shape), backbone)
    return net.train()


def pretrained_classifier(
    config: ExperimentConfig, in_shape: tuple[int, int, int], num_classes: int
) -> Classifier:
    """The configured transfer model, backbone weights loaded, behind the backbone's normalisation."""
    backbone = load_backbone(config.model, out=config.out, offline=config.data.offline)
    net = _configured_net(config, backbone, in_shape, num_classes)
    return Classifier(Normalize(backbone.mean, backbone.std), net, tta_flip=config.model.tta_flip)


def transfer_architecture(
    config: ExperimentConfig, in_shape: tuple[int, int, int], num_classes: int
) -> TransferNet:
    """The configured transfer network's structure, for loading a checkpoint of it."""
    backbone = load_backbone(config.model, out=config.out, offline=True, weights=False)
    return _configured_net(config, backbone, in_shape, num_classes)


def _configured_net(config: ExperimentConfig, backbone, in_shape, num_classes: int) -> TransferNet:
    """`transfer_net` with the strategy, resizing and seed the config asks for."""
    return transfer_net(
        backbone,
        in_shape,
        num_classes,
        strategy=config.train.strategy,
        resize=config.model.resize,
        seed=config.train.seed,
    )
