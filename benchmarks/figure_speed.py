"""How long the 11 figures of a run take to draw and save, on realistic synthetic inputs.

    PYTHONPATH=src python benchmarks/figure_speed.py [--case gray|rgb|both] [--repeats 3]

Each case mimics what `write_figures` draws after a 10-class run: 938 iterations x 5 epochs of
curves, 10,000 test predictions (confusion matrices, ROC), 32 first-layer filters 5x5, the 16
most confident mistakes with their Grad-CAM maps, and feature maps of two conv layers for one
image per class. Files are written as run_figures writes them (PNG, plus SVG for the curves
and ROC). Per figure: the median of `--repeats` times of drawing (the plot function), PNG and
SVG; the total sums the medians. Point PYTHONPATH at another checkout's `src` to time it.
`--processes 2` also times the whole set shared out over two forked worker processes.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import torch
import torch.nn.functional as nnf

from cnnlab.evaluate import roc_curves
from cnnlab.visualize import (
    plot_accuracy,
    plot_confusion,
    plot_f1,
    plot_feature_maps,
    plot_filters,
    plot_gradcam,
    plot_loss,
    plot_lr,
    plot_misclassified,
    plot_roc,
    save_figure,
    select_misclassified,
)

K, N_TEST, ITERATIONS, EPOCHS, FILTERS, SHOWN = 10, 10_000, 938, 5, 32, 16
CASES = {"gray": (1, 28), "rgb": (3, 32)}  # channels, side
VECTOR = {"loss", "accuracy", "f1", "lr", "roc"}  # also written as SVG by run_figures


def machine() -> str:
    """CPU model, cores, versions and the load average now."""
    model = platform.processor() or "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return (
        f"CPU: {model} | cores: {len(os.sched_getaffinity(0))} | Python "
        f"{platform.python_version()} | matplotlib {matplotlib.__version__} | "
        f"load average: {os.getloadavg()[0]:.2f}"
    )


def curve_inputs(rng: np.random.Generator) -> dict:
    """Per-iteration loss and lr, and per-epoch metrics, as a 5-epoch MNIST run leaves them."""
    T = ITERATIONS * EPOCHS
    iterations = np.arange(1, T + 1, dtype=np.float64)
    loss = 2.3 * np.exp(-iterations / 300) + 0.05 + rng.gamma(2.0, 0.03, T)
    lr = 5e-4 * (1 + np.cos(np.pi * iterations / T))
    epochs = np.arange(1, EPOCHS + 1, dtype=np.float64)
    ends = epochs * ITERATIONS
    train = 1 - 0.1 / epochs
    return {
        "iterations": iterations,
        "loss": loss,
        "lr": lr,
        "epochs": epochs,
        "ends": ends,
        "val_loss": list(0.2 / epochs),
        "train": list(train),
        "val": list(train - 0.01),
    }


def prediction_inputs(rng: np.random.Generator) -> dict:
    """10,000 test labels and softmax probabilities of a ~96% accurate 10-class model."""
    labels = rng.integers(0, K, N_TEST)
    logits = rng.normal(size=(N_TEST, K)) + 3.5 * np.eye(K)[labels]
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = probabilities.argmax(axis=1)
    matrix = np.zeros((K, K), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return {
        "labels": labels,
        "predicted": predicted,
        "confidence": probabilities.max(axis=1),
        "matrix": matrix,
        "curves": roc_curves(labels, probabilities),
    }


def stroke_images(rng: np.random.Generator, count: int, channels: int, side: int) -> np.ndarray:
    """uint8 (N, C, H, W) images that compress like real ones: blurred strokes on a dark ground
    (gray), or smooth colour fields with sensor noise (RGB)."""
    yy, xx = np.mgrid[0:side, 0:side] / side  # (H, W) each
    images = np.zeros((count, channels, side, side))
    for i in range(count):
        for _ in range(3):  # three strokes, each a blurred line segment
            (x0, y0), (x1, y1) = rng.uniform(0.2, 0.8, (2, 2))
            t = np.clip(
                ((xx - x0) * (x1 - x0) + (yy - y0) * (y1 - y0))
                / ((x1 - x0) ** 2 + (y1 - y0) ** 2 + 1e-9),
                0,
                1,
            )
            distance = np.hypot(xx - x0 - t * (x1 - x0), yy - y0 - t * (y1 - y0))
            images[i] += np.exp(-((distance / 0.06) ** 2))[None] * rng.uniform(
                0.5, 1.0, (channels, 1, 1)
            )
    if channels == 3:
        images = (
            0.6 * images
            + rng.uniform(0.1, 0.5, (count, 3, 1, 1))
            + rng.normal(0, 0.04, images.shape)
        )
    return np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)


def conv_activations(images: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """ReLU outputs of two random 5x5 conv layers (32 and 64 channels, pooled between)."""
    x = torch.from_numpy(images).float() / 255
    w1 = torch.from_numpy(rng.normal(0, 0.3, (32, images.shape[1], 5, 5))).float()
    w2 = torch.from_numpy(rng.normal(0, 0.1, (64, 32, 5, 5))).float()
    conv1 = torch.relu(nnf.conv2d(x, w1, padding=2))  # (N, 32, H, W)
    conv2 = torch.relu(nnf.conv2d(nnf.max_pool2d(conv1, 2), w2, padding=2))  # (N, 64, H/2, W/2)
    return {"net.conv1": conv1.numpy(), "net.conv2": conv2.numpy()}


def image_inputs(rng: np.random.Generator, channels: int, side: int, predictions: dict) -> dict:
    """Mistaken images, their Grad-CAM maps, first-layer filters and two layers' feature maps."""
    chosen = select_misclassified(
        predictions["labels"], predictions["predicted"], predictions["confidence"]
    )
    images = stroke_images(rng, len(chosen), channels, side)
    yy, xx = np.mgrid[0:side, 0:side] / side
    centres = rng.random((len(chosen), 2))
    maps = np.exp(-((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) * 8)
    pages = stroke_images(rng, K, channels, side)
    return {
        "images": images,
        "columns": (
            predictions["labels"][chosen],
            predictions["predicted"][chosen],
            predictions["confidence"][chosen],
        ),
        "ids": chosen.tolist(),
        "maps": maps,
        "weights": rng.normal(0, 0.2, (FILTERS, channels, 5, 5)),
        "pages": pages,
        "activations": conv_activations(pages, rng),
        "titles": [f"test #{k}: true {k}, predicted {k} (0.99)" for k in range(K)],
    }


def figure_builders(channels: int, side: int) -> dict[str, Callable]:
    """Figure name -> a function drawing it from fresh synthetic inputs (seeded)."""
    rng = np.random.default_rng(0)
    c = curve_inputs(rng)
    p = prediction_inputs(rng)
    m = image_inputs(rng, channels, side, p)
    names = [str(k) for k in range(K)]
    return {
        "loss": lambda: plot_loss(c["iterations"], c["loss"], c["ends"], c["val_loss"]),
        "accuracy": lambda: plot_accuracy(c["epochs"], c["train"], c["val"]),
        "f1": lambda: plot_f1(c["epochs"], c["train"], c["val"]),
        "lr": lambda: plot_lr(c["iterations"], c["lr"]),
        "confusion_matrix": lambda: plot_confusion(p["matrix"], names),
        "confusion_matrix_normalized": lambda: plot_confusion(p["matrix"], names, normalized=True),
        "roc": lambda: plot_roc(p["curves"], names),
        "filters": lambda: plot_filters(m["weights"], layer="net.conv1"),
        "feature_maps": lambda: plot_feature_maps(m["pages"], m["activations"], m["titles"]),
        "misclassified": lambda: plot_misclassified(
            m["images"], *m["columns"], names, ids=m["ids"]
        ),
        "gradcam": lambda: plot_gradcam(
            m["images"], m["maps"], *m["columns"], names, ids=m["ids"], layer="net.act2"
        ),
    }


def time_figure(build: Callable, path: Path, vector: bool) -> tuple[float, float, float | None]:
    """Seconds to draw one figure, to write it as PNG, and as SVG (None when not `vector`)."""
    start = time.perf_counter()
    figure = build()
    drawn = time.perf_counter()
    save_figure(figure, path, ("png",))
    png = time.perf_counter()
    if not vector:
        return drawn - start, png - drawn, None
    save_figure(figure, path, ("svg",))
    return drawn - start, png - drawn, time.perf_counter() - png


def time_case(channels: int, side: int, repeats: int, out: Path) -> dict[str, tuple]:
    """Figure name -> median seconds (draw, png, svg or None) over `repeats` rounds."""
    builders = figure_builders(channels, side)
    save_figure(builders["loss"](), out / "warm-up")  # fonts, colormaps, caches: as after training
    (out / "warm-up.png").unlink()
    rounds = [
        {name: time_figure(build, out / name, name in VECTOR) for name, build in builders.items()}
        for _ in range(repeats)
    ]
    return {
        name: tuple(
            None if rounds[0][name][i] is None else statistics.median(r[name][i] for r in rounds)
            for i in range(3)
        )
        for name in builders
    }


def parallel_seconds(channels: int, side: int, processes: int, repeats: int, out: Path) -> float:
    """Median wall seconds to draw and save the whole set with `processes` forked workers.

    The inputs are built before the fork, so the workers start with them and the imports;
    the figures are shared out by their serial cost (the costliest first, to the least busy).
    """
    builders = figure_builders(channels, side)
    costs = {
        name: sum(t or 0.0 for t in times)
        for name, times in time_case(channels, side, 1, out).items()
    }
    shares: list[list[str]] = [[] for _ in range(processes)]
    for name in sorted(costs, key=costs.get, reverse=True):
        min(shares, key=lambda share: sum(costs[n] for n in share)).append(name)

    def work(share: list[str]) -> None:
        for name in share:
            formats = ("png", "svg") if name in VECTOR else ("png",)
            save_figure(builders[name](), out / name, formats)

    walls = []
    context = multiprocessing.get_context("fork")
    for _ in range(repeats):
        start = time.perf_counter()
        workers = [context.Process(target=work, args=(share,)) for share in shares]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def table(results: dict[str, dict[str, tuple]]) -> str:
    """A Markdown table: per figure and case, draw + PNG seconds, SVG seconds, and totals."""
    cases = list(results)
    head = ["figure"] + [f"{c}: draw+png s" for c in cases] + [f"{c}: svg s" for c in cases]
    lines = ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (2 * len(cases))]
    names = list(next(iter(results.values())))
    for name in names:
        cells = [f"{results[c][name][0] + results[c][name][1]:.3f}" for c in cases]
        cells += [
            "" if results[c][name][2] is None else f"{results[c][name][2]:.3f}" for c in cases
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    png_totals = [sum(v[0] + v[1] for v in results[c].values()) for c in cases]
    svg_totals = [sum(v[2] or 0.0 for v in results[c].values()) for c in cases]
    lines.append(
        "| **total** | "
        + " | ".join(f"**{t:.2f}**" for t in png_totals)
        + " | "
        + " | ".join(f"**{t:.2f}**" for t in svg_totals)
        + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "both"], default="both")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="leave the figures in KEEP/<case>/ to look at")
    parser.add_argument(
        "--processes", type=int, help="also time the whole set drawn by this many forked workers"
    )
    args = parser.parse_args()
    print(machine())
    chosen = list(CASES) if args.case == "both" else [args.case]
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for case in chosen:
            out = (args.keep or Path(folder)) / case
            out.mkdir(parents=True, exist_ok=True)
            results[case] = time_case(*CASES[case], args.repeats, out)
    print(table(results))
    if args.processes:
        with tempfile.TemporaryDirectory() as folder:
            for case in chosen:
                wall = parallel_seconds(*CASES[case], args.processes, args.repeats, Path(folder))
                print(
                    f"{case}: the whole set (PNG + SVG) in {args.processes} processes: {wall:.2f} s"
                )


if __name__ == "__main__":
    main()
