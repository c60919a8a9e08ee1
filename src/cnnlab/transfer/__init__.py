"""Transfer learning: a backbone from a cnnlab run or torchvision-format ResNet weights, a new
head, input adaptation, and freeze / fine-tune / discriminative learning rates.

    model: {pretrained: runs/cifar5-convnet}           # a cnnlab run: its model and weights
    model: {name: resnet18, pretrained: imagenet}      # official ImageNet weights (cached)
    model: {name: resnet34, pretrained: resnet34-b627a593.pth, resize: true}
    train: {strategy: two-stage, head_epochs: 2, backbone_lr_mult: 0.1}

Training itself is the ordinary loop: the experiment driver builds the model here and gives
the optimizer the parameter groups here. The network's structure lives in `models`
(`TransferNet`), so a fine-tuned run loads without the run it was fine-tuned from.
"""

from cnnlab.transfer.backbone import (
    IMAGENET,
    Backbone,
    Source,
    find_source,
    load_backbone,
    resolve_config,
)
from cnnlab.transfer.net import backbone_record, new_head, pretrained_classifier, transfer_net
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
    "Source",
    "WeightsFile",
    "backbone_record",
    "fetch_weights",
    "find_source",
    "load_backbone",
    "load_checked",
    "new_head",
    "param_groups",
    "pretrained_classifier",
    "read_state_dict",
    "resolve_config",
    "transfer_net",
    "transfer_part",
]
