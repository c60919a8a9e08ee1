"""Head surgery with weights: a pretrained backbone made into a classifier for new data.

The structure (`adapt` – `backbone` – `head`) is `models.TransferNet`, built from an
architecture record, so a checkpoint of it loads from `models` alone; here the backbone's
weights are copied in and the new head is initialised from the run's seed.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from cnnlab.config import ExperimentConfig
from cnnlab.errors import ModelError
from cnnlab.models.architecture import build_net, seeded, transfer_record
from cnnlab.models.classifier import Classifier, Normalize
from cnnlab.models.transfer_net import TransferNet, head_name
from cnnlab.transfer.backbone import Backbone, load_backbone


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


def backbone_record(
    backbone: Backbone, strategy: str = "finetune", resize: bool = False
) -> dict[str, Any]:
    """The architecture record of `backbone` with a new head, for `strategy` and `resize`."""
    head = head_name(backbone.net, backbone.num_classes, backbone.description)
    size = backbone.in_shape[1:] if resize else None
    return transfer_record(
        backbone.architecture,
        backbone.in_shape,
        backbone.num_classes,
        head,
        size,
        strategy == "linear-probe",
    )


def transfer_net(
    backbone: Backbone,
    in_shape: tuple[int, int, int],
    num_classes: int,
    *,
    strategy: str = "finetune",
    resize: bool = False,
    seed: int = 0,
) -> TransferNet:
    """The backbone's weights behind a new `num_classes` head, for (C, H, W) inputs; its
    structure is `backbone_record(backbone, strategy, resize)` built by `models`.

    `strategy` linear-probe freezes the backbone (no gradients, eval mode throughout).
    """
    _check_channels(in_shape[0], backbone)
    record = backbone_record(backbone, strategy, resize)
    with seeded(seed):
        net = build_net(record, tuple(in_shape), num_classes)
    head = record["head"]
    weights = {
        key: value
        for key, value in backbone.net.state_dict().items()
        if key != head and not key.startswith(head + ".")
    }
    net.backbone.load_state_dict(weights)
    net.head = new_head(net.head.in_features, num_classes, seed)
    _check_runs(net, tuple(in_shape), backbone)
    return net.train()


def pretrained_classifier(
    config: ExperimentConfig, in_shape: tuple[int, int, int], num_classes: int
) -> Classifier:
    """The configured transfer model, backbone weights loaded, behind the backbone's normalisation."""
    backbone = load_backbone(config.model, out=config.out, offline=config.data.offline)
    strategy, resize = config.train.strategy, config.model.resize
    net = transfer_net(
        backbone, in_shape, num_classes, strategy=strategy, resize=resize, seed=config.train.seed
    )
    record = backbone_record(backbone, strategy, resize)
    return Classifier(Normalize(backbone.mean, backbone.std), net, record, in_shape)
