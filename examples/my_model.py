"""A small CNN as you would write it for plain PyTorch; cnnlab trains it as it is:

    cnnlab train --dataset mnist-sample --model examples/my_model.py:SmallCNN --epochs 3

cnnlab reads the signature and passes `num_classes` and `in_channels` from the data (and
`model.options` as keywords), so the same file trains on gray MNIST or RGB photos.
"""

from torch import nn


class SmallCNN(nn.Module):
    """Two conv-batchnorm-ReLU-pool stages, pooling to 4x4 and a linear head."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=3, padding=1),  # (N, 16, H, W)
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 16, H/2, W/2)
            nn.Conv2d(16, 32, kernel_size=3, padding=1),  # (N, 32, H/2, W/2)
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (N, 32, H/4, W/4)
            nn.AdaptiveAvgPool2d(4),  # (N, 32, 4, 4): any input size works
            nn.Flatten(),  # (N, 512)
        )
        self.head = nn.Linear(32 * 4 * 4, num_classes)

    def forward(self, x):
        return self.head(self.features(x))
