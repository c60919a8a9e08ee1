"""The reference: a training loop written the way course tutorials write it.

A `Dataset` that returns one tensor per sample (for CIFAR-10: a PIL image opened, randomly
cropped and flipped per sample), a `DataLoader` with batch 64 and shuffling, Adam 1e-3, a
per-epoch test pass. cnnlab's speed and accuracy are compared against this (see
benchmarks/README.md and benchmarks/speed.py). Kept deliberately plain: no cnnlab imports.

    python benchmarks/reference_loop.py --data-dir DIR --net two_conv --epochs 5 --seed 0
    python benchmarks/reference_loop.py --data-dir DIR --dataset cifar10 --net cifar_shallow

For CIFAR-10, DIR holds `cifar10-jpg/{train,test}/<class>/*.jpg` (the extracted
`cifar10-jpg.tar.gz`). `--json` prints one JSON object per epoch; `--stop-at A` stops once
the test accuracy reaches A.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import struct
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
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


class JpegFolder(Dataset):
    """`<root>/<class>/*.jpg`, opened with PIL per sample; training adds crop (pad 4) and flip."""

    MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(3, 1, 1)
    STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(3, 1, 1)

    def __init__(self, root: Path, train: bool) -> None:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        self.samples = [
            (path, label)
            for label, name in enumerate(classes)
            for path in sorted((root / name).glob("*.jpg"))
        ]
        self.train = train

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int):
        path, label = self.samples[index]
        image = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
        tensor = torch.from_numpy(image).permute(2, 0, 1)  # (3, 32, 32)
        if self.train:
            padded = torch.nn.functional.pad(tensor, (4, 4, 4, 4))
            top, left = random.randint(0, 8), random.randint(0, 8)
            tensor = padded[:, top : top + 32, left : left + 32]
            if random.random() < 0.5:
                tensor = tensor.flip(2)
        return (tensor - self.MEAN) / self.STD, label


def cifar_shallow() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 8 * 8, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def cifar_four_conv() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 8 * 8, 512),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(512, 10),
    )


def two_conv() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 10),
    )


def two_conv_hidden_relu_dropout() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 1024),
        nn.ReLU(),
        nn.Dropout(0.3),
        nn.Linear(1024, 10),
    )


def v1() -> nn.Module:
    """MNIST v1 as students write it: one 5x5 conv, a 2x2 max-pool, a linear layer."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 14 * 14, 10)
    )


NETS = {
    "v1": v1,
    "two_conv": two_conv,
    "two_conv_hidden_relu_dropout": two_conv_hidden_relu_dropout,
    "cifar_shallow": cifar_shallow,
    "cifar_four_conv": cifar_four_conv,
}


def test_accuracy(model: nn.Module, loader: DataLoader, device: str) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            correct += (model(images).argmax(1) == labels).sum().item()
            total += len(labels)
    return correct / total


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", default=os.environ.get("CNNLAB_DATA"))
    parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist", "cifar10"])
    parser.add_argument("--net", default="two_conv", choices=sorted(NETS))
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="one JSON object per epoch")
    parser.add_argument("--stop-at", type=float, default=None, help="stop at this test accuracy")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if not args.data_dir:
        print("skipped: give --data-dir or set CNNLAB_DATA")
        return 0
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    if args.dataset == "cifar10":
        folder = Path(args.data_dir) / "cifar10-jpg"
        train_set, test_set = JpegFolder(folder / "train", True), JpegFolder(folder / "test", False)
    else:
        folder = Path(args.data_dir) / args.dataset
        train_set, test_set = IdxDataset(folder, True), IdxDataset(folder, False)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=1000)
    model = NETS[args.net]().to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(1, args.epochs + 1):
        model.train()
        started = time.perf_counter()
        for images, labels in train_loader:
            images, labels = images.to(args.device), labels.to(args.device)
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        accuracy = test_accuracy(model, test_loader, args.device)
        if args.json:
            print(
                json.dumps(
                    {
                        "epoch": epoch,
                        "seconds": seconds,
                        "test_accuracy": accuracy,
                        "images": len(train_set),
                    }
                ),
                flush=True,
            )
        else:
            print(f"epoch {epoch}: {seconds:.1f} s, test accuracy {accuracy:.4f}", flush=True)
        if args.stop_at is not None and accuracy >= args.stop_at:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
