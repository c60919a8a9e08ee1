"""Speed of the scratch engine's conv and max pool: naive loops, fast NumPy, and torch on the CPU.

    python benchmarks/scratch_speed.py [--threads N] [--repeat 10] [--naive-images 2] [--clock cpu]

Shapes: the classic assignment's (x 50x3x32x32, w 25x3x3x3, stride 1, pad 1) and the
ThreeLayerConvNet's own layers on a batch of 50 (conv 32 filters 7x7 pad 3 on 3x32x32, then
2x2 max pool on 32x32x32), plus a 3x3 stride-2 pool for the strided path. Everything is
float32; each time is the best of --repeat runs. The naive versions run on --naive-images
images and are scaled to the full batch (they are linear in N), as the table says. Backward
times are the backward pass alone (torch: autograd.grad on a kept graph); "both" is their
sum, what a training step pays (torch's pool saves indices in its forward pass, ours finds
them with the maximum). torch is imported here only, never by cnnlab.scratch. On a shared
machine, `--threads 1 --clock cpu` gives the steadiest numbers.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from threadpoolctl import threadpool_limits

from cnnlab.scratch import conv, pool

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def best_time(function: Callable[[], object], repeat: int, clock: str = "wall") -> float:
    """The fastest of `repeat` runs, in seconds (after one warm-up run)."""
    now = CLOCKS[clock]
    function()
    times = []
    for _ in range(repeat):
        started = now()
        function()
        times.append(now() - started)
    return min(times)


@dataclass(frozen=True)
class Case:
    """One layer shape to time."""

    name: str
    kind: str  # "conv" or "pool"
    x_shape: tuple[int, int, int, int]
    w_shape: tuple[int, int, int, int] | None = None  # conv only
    stride: int = 1
    pad: int = 0
    size: int = 2  # pool window


CASES = (
    Case("classic conv: x 50x3x32x32, w 25x3x3x3, s1 p1", "conv", (50, 3, 32, 32), (25, 3, 3, 3), 1, 1),
    Case("ThreeLayerConvNet conv: w 32x3x7x7, s1 p3", "conv", (50, 3, 32, 32), (32, 3, 7, 7), 1, 3),
    Case("ThreeLayerConvNet pool: 50x32x32x32, 2x2 s2", "pool", (50, 32, 32, 32), stride=2, size=2),
    Case("strided pool: 50x32x32x32, 3x3 s2", "pool", (50, 32, 32, 32), stride=2, size=3),
)  # fmt: skip


def numpy_pair(case: Case, which: str):
    """(forward(x, w, b), backward(dout, cache)) of the naive or fast scratch layer."""
    if case.kind == "conv":
        forward = getattr(conv, f"conv_forward_{which}")
        return (
            lambda x, w, b: forward(x, w, b, case.stride, case.pad),
            getattr(conv, f"conv_backward_{which}"),
        )
    forward = getattr(pool, f"max_pool_forward_{which}")
    return (
        lambda x, w, b: forward(x, case.size, case.size, case.stride),
        getattr(pool, f"max_pool_backward_{which}"),
    )


Timer = Callable[[Callable[[], object]], float]  # a function -> its best time in seconds


def time_numpy(case: Case, which: str, x, w, b, timer: Timer) -> tuple[float, float]:
    """(forward, backward) seconds of a scratch layer on x."""
    forward, backward = numpy_pair(case, which)
    out, cache = forward(x, w, b)
    dout = np.ones_like(out)
    return timer(lambda: forward(x, w, b)), timer(lambda: backward(dout, cache))


def time_torch(case: Case, x, w, b, timer: Timer) -> tuple[float, float]:
    """(forward, backward) seconds of torch's CPU layer on x (float32)."""
    tx = torch.from_numpy(x).requires_grad_(True)
    params = [tx]
    if case.kind == "conv":
        tw, tb = torch.from_numpy(w).requires_grad_(True), torch.from_numpy(b).requires_grad_(True)
        params += [tw, tb]

        def forward():
            return F.conv2d(tx, tw, tb, stride=case.stride, padding=case.pad)
    else:

        def forward():
            return F.max_pool2d(tx, case.size, case.stride)

    with torch.no_grad():
        forward_seconds = timer(forward)
    out = forward()
    dout = torch.ones_like(out)
    backward_seconds = timer(lambda: torch.autograd.grad(out, params, dout, retain_graph=True))
    return forward_seconds, backward_seconds


def run(repeat: int, naive_images: int, clock: str) -> list[tuple]:
    """Rows (case, pass, naive s scaled, fast s, torch s) for every case."""
    rng = np.random.default_rng(0)
    rows = []
    for case in CASES:
        x = rng.standard_normal(case.x_shape).astype(np.float32)
        w = b = None
        if case.w_shape:
            w = (0.1 * rng.standard_normal(case.w_shape)).astype(np.float32)
            b = np.zeros(case.w_shape[0], np.float32)
        scale = case.x_shape[0] / naive_images
        naive_timer = partial(best_time, repeat=max(1, repeat // 2), clock=clock)
        timer = partial(best_time, repeat=repeat, clock=clock)
        naive = time_numpy(case, "naive", x[:naive_images], w, b, naive_timer)
        fast = time_numpy(case, "fast", x, w, b, timer)
        reference = time_torch(case, x, w, b, timer)
        for index, name in enumerate(("forward", "backward")):
            rows.append((case.name, name, naive[index] * scale, fast[index], reference[index]))
        rows.append((case.name, "both", sum(naive) * scale, sum(fast), sum(reference)))
    return rows


def table(rows: list[tuple], naive_images: int, threads: str, clock: str) -> str:
    """The rows as a text table with the naive/fast and fast/torch ratios."""
    lines = [
        f"float32, best of several runs ({clock} clock); naive timed on {naive_images} images "
        f"and scaled to the batch; threads: {threads}",
        f"{'layer':<48} {'pass':<8} {'naive ms':>10} {'fast ms':>9} {'torch ms':>9} "
        f"{'naive/fast':>10} {'fast/torch':>10}",
    ]
    for name, which, naive, fast, reference in rows:
        lines.append(
            f"{name:<48} {which:<8} {naive * 1e3:>10.1f} {fast * 1e3:>9.2f} {reference * 1e3:>9.2f} "
            f"{naive / fast:>9.0f}x {fast / reference:>9.2f}x"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="BLAS and torch threads (default: theirs)")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--naive-images", type=int, default=2)
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="wall",
        help="cpu: process time, steadier on a shared machine (use it with --threads 1)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        rows = run(args.repeat, args.naive_images, args.clock)
    threads = f"{args.threads}" if args.threads else f"default (torch {torch.get_num_threads()})"
    print(table(rows, args.naive_images, threads, args.clock))


if __name__ == "__main__":
    main()
