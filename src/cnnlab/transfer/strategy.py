"""Training strategies of a transfer model, as named parameter groups for the optimizer.

- `finetune`: every layer trains; the backbone at `optim.lr * train.backbone_lr_mult`
  (discriminative learning rates: below 1 the pretrained layers move more slowly).
- `linear-probe`: the backbone is frozen (built without gradients and kept in eval mode, see
  `TransferNet`); only the head is given to the optimizer.
- `two-stage`: the head trains alone for `train.head_epochs` epochs, then every layer. The
  backbone group carries `start_epoch`, and the schedule keeps its learning rate at 0 until
  then, so the stage is a pure function of the step count and a resumed run lands in the
  right one. During the head-only stage the backbone still computes gradients and its batch
  norm statistics follow the new data (as fastai's `freeze` does); with SGD momentum its
  buffer fills during that stage.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from cnnlab.config import TrainConfig
from cnnlab.errors import ModelError
from cnnlab.models.transfer_net import TransferNet


def transfer_part(model: nn.Module) -> TransferNet:
    """The `TransferNet` of a model (a cnnlab `Classifier` around one, or one itself)."""
    net = getattr(model, "net", model)
    if not isinstance(net, TransferNet):
        raise ModelError(
            f"expected a transfer model (a backbone and a head), got {type(net).__name__}; "
            f"set model.pretrained"
        )
    return net


def param_groups(model: nn.Module, train: TrainConfig, lr: float) -> list[dict[str, Any]]:
    """The optimizer's parameter groups: `head` at `lr`, then `backbone` (left out when frozen)."""
    net = transfer_part(model)
    groups: list[dict[str, Any]] = [
        {"name": "head", "params": [p for p in net.head.parameters() if p.requires_grad]}
    ]
    backbone = [p for p in net.backbone.parameters() if p.requires_grad]
    if backbone:
        group = {"name": "backbone", "params": backbone, "lr": lr * train.backbone_lr_mult}
        if train.strategy == "two-stage":
            group["start_epoch"] = train.head_epochs  # lr 0 before: the head trains alone
        groups.append(group)
    return groups
