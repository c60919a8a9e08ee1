"""Transfer learning: a backbone from a cnnlab run or torchvision-format ResNet weights, a new
head, input adaptation, and freeze / fine-tune / discriminative learning rates.

    model: {pretrained: runs/cifar5-convnet}           # a cnnlab run: its model and weights
    model: {name: resnet18, pretrained: imagenet}      # official ImageNet weights (cached)
    model: {name: resnet34, pretrained: resnet34-b627a593.pth, resize: true}
    train: {strategy: two-stage, head_epochs: 2, backbone_lr_mult: 0.1}

Training itself is the ordinary loop: `runs.experiment` builds the model here and gives
the optimizer the parameter groups here.
"""

from cnnlab.transfer.backbone import (
    IMAGENET,
    Backbone,
    Source,
    find_source,
    load_backbone,
    resolve_config,
)
from cnnlab.transfer.net import (
    InputAdapter,
    TransferNet,
    head_name,
    pretrained_classifier,
    transfer_architecture,
    transfer_net,
)
from cnnlab.transfer.strategy import param_groups, transfer_part
from cnnlab.transfer.weights import (
    TORCHVISION_RESNETS,
    WeightsFile,
    fetch_weights,
    load_checked,
    read_state_dict,
)

__all__ = [
    "IMAGENET",
    "TORCHVISION_RESNETS",
    "Backbone",
    "InputAdapter",
    "Source",
    "TransferNet",
    "WeightsFile",
    "fetch_weights",
    "find_source",
    "head_name",
    "load_backbone",
    "load_checked",
    "param_groups",
    "pretrained_classifier",
    "read_state_dict",
    "resolve_config",
    "transfer_architecture",
    "transfer_net",
    "transfer_part",
]
