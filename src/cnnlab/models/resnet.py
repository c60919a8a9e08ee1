"""ResNet-18/34 built by hand from a BasicBlock, with torchvision's layer names.

The `imagenet` stem (7x7 stride-2 conv + 3x3 stride-2 max-pool) gives a `state_dict` whose
keys and shapes equal torchvision's `resnet18`/`resnet34`, so its ImageNet weights load
unchanged. The `cifar` stem (3x3 stride-1 conv, no max-pool) keeps 32x32 images from
shrinking to 1x1 before `layer4`; it keeps the child `maxpool` as an identity so the names
stay the same.
"""

from __future__ import annotations

import torch
from torch import nn

from cnnlab.models import options as opt

STEMS = ("auto", "imagenet", "cifar")
IMAGENET_STEM_MIN_SIDE = 128  # `stem="auto"` picks imagenet when both H and W reach this


class BasicBlock(nn.Module):
    """conv3x3 – bn – relu – conv3x3 – bn, plus the (projected) input, then relu."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:  # 1x1 projection so the shortcut matches
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, P, H/s, W/s)
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """Stem – layer1..layer4 (64, 128, 256, 512 channels) – global average pool – fc."""

    def __init__(
        self,
        blocks_per_layer: tuple[int, int, int, int],
        in_channels: int,
        num_classes: int,
        stem: str,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, 64, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        if stem == "imagenet":
            self.maxpool: nn.Module = nn.MaxPool2d(3, stride=2, padding=1)
        else:
            self.maxpool = nn.Identity()
        self.layer1 = self._make_layer(64, 64, blocks_per_layer[0], stride=1)
        self.layer2 = self._make_layer(64, 128, blocks_per_layer[1], stride=2)
        self.layer3 = self._make_layer(128, 256, blocks_per_layer[2], stride=2)
        self.layer4 = self._make_layer(256, 512, blocks_per_layer[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * BasicBlock.expansion, num_classes)
        self._init_weights(zero_init_residual)

    @staticmethod
    def _make_layer(in_planes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
        """`blocks` BasicBlocks; the first one changes stride and width."""
        layers = [BasicBlock(in_planes, planes, stride)]
        layers += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def _init_weights(self, zero_init_residual: bool) -> None:
        """He init for convs, unit BN; optionally zero each block's last BN (identity blocks)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        for module in self.modules():  # after the loop above, which resets every BN to ones
            if zero_init_residual and isinstance(module, BasicBlock):
                nn.init.zeros_(module.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, K)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4) imagenet stem
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (N, 512, h, w)
        x = torch.flatten(self.avgpool(x), 1)  # (N, 512)
        return self.fc(x)


def _resolve_stem(model: str, stem: object, in_shape: tuple[int, int, int]) -> str:
    """The stem to build: `auto` means imagenet for inputs of 128x128 or more, else cifar."""
    stem = opt.choice(model, "stem", stem, STEMS)
    if stem != "auto":
        return stem
    _, H, W = in_shape
    return "imagenet" if min(H, W) >= IMAGENET_STEM_MIN_SIDE else "cifar"


def _resnet(
    model: str,
    blocks_per_layer: tuple[int, int, int, int],
    in_shape: tuple[int, int, int],
    num_classes: int,
    stem: object,
    zero_init_residual: object,
) -> ResNet:
    """Shared body of the ResNet builders (any input side >= 1 works: padding keeps sides >= 1)."""
    return ResNet(
        blocks_per_layer,
        in_shape[0],
        num_classes,
        _resolve_stem(model, stem, in_shape),
        opt.flag(model, "zero_init_residual", zero_init_residual),
    )


def resnet18(
    in_shape: tuple[int, int, int],
    num_classes: int,
    *,
    stem: str = "auto",
    zero_init_residual: bool = False,
) -> nn.Module:
    """ResNet-18: BasicBlocks (2, 2, 2, 2)."""
    return _resnet("resnet18", (2, 2, 2, 2), in_shape, num_classes, stem, zero_init_residual)


def resnet34(
    in_shape: tuple[int, int, int],
    num_classes: int,
    *,
    stem: str = "auto",
    zero_init_residual: bool = False,
) -> nn.Module:
    """ResNet-34: BasicBlocks (3, 4, 6, 3)."""
    return _resnet("resnet34", (3, 4, 6, 3), in_shape, num_classes, stem, zero_init_residual)
