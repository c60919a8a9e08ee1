"""The reference: a training loop written the way course tutorials write it.

A `Dataset` that returns one tensor per sample, a `DataLoader` with batch 64 and shuffling,
Adam 1e-3, a per-epoch test pass. cnnlab's speed and accuracy are compared against this
(see benchmarks/README.md). Kept deliberately plain: no cnnlab imports in the loop itself.

    python benchmarks/reference_loop.py --data-dir DIR --net two_conv --epochs 5 --seed 0
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


def read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    ndim = data[3]
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


class IdxDataset(Dataset):
    """MNIST-format images, one normalised (1, 28, 28) float tensor per item."""

    def __init__(self, folder: Path, train: bool) -> None:
        prefix = "train" if train else "t10k"
        self.images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
        self.labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int):
        image = torch.tensor(self.images[index], dtype=torch.float32).div(255).unsqueeze(0)
        image = (image - 0.1307) / 0.3081  # the usual MNIST normalisation
        return image, int(self.labels[index])


def two_conv() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 10),
    )


def two_conv_hidden_relu_dropout() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 1024), nn.ReLU(), nn.Dropout(0.3), nn.Linear(1024, 10),
    )


NETS = {"two_conv": two_conv, "two_conv_hidden_relu_dropout": two_conv_hidden_relu_dropout}


def test_accuracy(model: nn.Module, loader: DataLoader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += len(labels)
    return correct / total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("CNNLAB_DATA"))
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist"])
    parser.add_argument("--net", default="two_conv", choices=sorted(NETS))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.data_dir:
        print("skipped: give --data-dir or set CNNLAB_DATA")
        return 0
    torch.manual_seed(args.seed)
    folder = Path(args.data_dir) / args.dataset
    train_loader = DataLoader(IdxDataset(folder, True), batch_size=64, shuffle=True)
    test_loader = DataLoader(IdxDataset(folder, False), batch_size=1000)
    model = NETS[args.net]()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        started = time.perf_counter()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - started
        accuracy = test_accuracy(model, test_loader)
        print(f"epoch {epoch}: {seconds:.1f} s, test accuracy {accuracy:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
