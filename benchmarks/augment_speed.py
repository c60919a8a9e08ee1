"""What batched augmentation costs against one training step of the CIFAR nets (issue #23).

    python benchmarks/augment_speed.py [--quick] [--repeat 20] [--threads 2] [--device cpu]

For each net (convnet_deep as recipe cifar10-first-convnets builds it, batch 128; fastnet as
recipe cifar10-fast builds it, batch 256) on 3x32x32 inputs: the median time of one training
step as cnnlab takes it (forward under bf16 autocast where the CPU has bf16 units, channels-
last, cross-entropy, backward, a fused Adam step), and for each augmentation the median time
of `augment_batch` on one uint8 batch of that size, with its share of the step. Printed as a
Markdown table. `--quick` times 3 repeats after 1 warm-up (a smoke run, not a measurement).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnnlab.data.augment import AugmentSpec, augment_batch
from cnnlab.data.mixing import MixSpec, mix_batch
from cnnlab.models import build_model
from cnnlab.training.device import autocast, autocast_dtype, use_channels_last
from cnnlab.training.optim import has_fused_kernels

AUGMENTS = ("crop4", "flip", "cutout8", "trivial", "erase25", "crop4,flip,trivial,erase25")
MIXES = {"mixup 0.2": {"mixup": 0.2}, "cutmix 1.0": {"cutmix": 1.0}}  # batch mixing, per batch
IN_SHAPE = (3, 32, 32)
CLASSES = 10


@dataclass(frozen=True)
class Net:
    """A CIFAR net as its recipe builds it, and the recipe's batch size."""

    label: str
    name: str
    options: dict
    batch_size: int


NETS = (
    Net(
        "convnet_deep (cifar10-first-convnets)",
        "convnet_deep",
        {"widths": [32, 64, 128], "hidden": [256], "dropout": 0.3, "pool": "max"},
        128,
    ),
    Net("fastnet (cifar10-fast)", "fastnet", {"stem": 24, "widths": [48, 96, 192]}, 256),
)


def median_time(function: Callable[[], object], device: torch.device, warmup: int, repeat: int):
    """Median seconds of `repeat` calls of `function`, after `warmup` untimed ones."""

    def timed() -> float:
        started = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return time.perf_counter() - started

    for _ in range(warmup):
        timed()
    return statistics.median(timed() for _ in range(repeat))


def step_function(net: Net, device: torch.device) -> Callable[[], None]:
    """One training step of `net` on a fixed random batch, the way cnnlab's loop takes it."""
    model = build_model(net.name, IN_SHAPE, CLASSES, **net.options).to(device)
    channels_last = use_channels_last(None, device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    fused = {"fused": True} if has_fused_kernels(device) else {}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **fused)
    criterion = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(net.batch_size, *IN_SHAPE, generator=generator).to(device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    labels = torch.randint(0, CLASSES, (net.batch_size,), generator=generator).to(device)
    amp = autocast_dtype(device, "auto")
    model.train()

    def step() -> None:
        with autocast(device, amp):
            logits = model(images)
        loss = criterion(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def augment_function(text: str, batch_size: int, device: torch.device) -> Callable[[], object]:
    """`augment_batch` of one uint8 batch with the spec `text`, draws from one generator."""
    spec = AugmentSpec.from_string(text)
    cpu = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (batch_size, *IN_SHAPE), generator=cpu, dtype=torch.uint8)
    images = images.to(device)
    generator = torch.Generator(device=device).manual_seed(2)
    return lambda: augment_batch(images, spec, generator)


def mix_function(values: dict, batch_size: int, device: torch.device) -> Callable[[], object]:
    """`mix_batch` of one float batch (as the loader hands it on) into soft targets."""
    spec = MixSpec(**values)
    cpu = torch.Generator().manual_seed(1)
    images = torch.rand((batch_size, *IN_SHAPE), generator=cpu).to(device)
    labels = torch.randint(0, 10, (batch_size,), generator=cpu).to(device)
    rng = np.random.default_rng(2)
    return lambda: mix_batch(images, labels, spec, 10, rng)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 warm-up, 3 repeats")
    parser.add_argument("--repeat", type=int, default=20, help="timed repeats (median)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    warmup, repeat = (1, 3) if args.quick else (5, args.repeat)
    amp = autocast_dtype(device, "auto")
    print(
        f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"autocast {amp or 'off (fp32)'}, median of {repeat} after {warmup} warm-up\n"
    )
    print("| net | batch | step ms | augment | augment ms | % of step |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for net in NETS:
        step = median_time(step_function(net, device), device, warmup, repeat)
        cases = [(f"`{text}`", augment_function(text, net.batch_size, device)) for text in AUGMENTS]
        cases += [
            (name, mix_function(values, net.batch_size, device)) for name, values in MIXES.items()
        ]
        for text, function in cases:
            cost = median_time(function, device, warmup, repeat)
            print(
                f"| {net.label} | {net.batch_size} | {step * 1e3:.1f} | {text} | "
                f"{cost * 1e3:.2f} | {100 * cost / step:.1f}% |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
