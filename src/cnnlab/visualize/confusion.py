"""The confusion matrix as a figure: counts or row-normalised, readable from 2 to 100+ classes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.colors import Normalize, PowerNorm
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnlab.errors import DataFormatError
from cnnlab.visualize.panels import new_figure

MAX_ANNOTATED = 25  # classes up to which every cell shows its number
SIDE_INCHES = (4.5, 14.0)  # smallest and largest side of the matrix itself
POINTS_PER_INCH = 72


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (the recall of each true class); empty rows stay 0."""
    matrix = np.asarray(matrix, dtype=np.float64)
    totals = matrix.sum(axis=1, keepdims=True)  # (K, 1)
    return np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)


def plot_confusion(
    matrix: np.ndarray, class_names: Sequence[str], *, normalized: bool = False
) -> Figure:
    """Confusion matrix (K, K), rows true and columns predicted, as counts or row fractions.

    Up to MAX_ANNOTATED classes each cell carries its number; beyond, the colour alone
    speaks and tick labels shrink with the cell size so all class names stay listed.
    """
    matrix = np.asarray(matrix)
    K = len(class_names)
    if matrix.shape != (K, K):
        raise DataFormatError(
            f"confusion matrix must be ({K}, {K}) for {K} class names, got shape {matrix.shape}"
        )
    values = normalize_rows(matrix) if normalized else matrix.astype(np.float64)
    side = float(np.clip(2.0 + 0.42 * K, *SIDE_INCHES))
    cell_points = side * POINTS_PER_INCH / K
    tick_size = float(np.clip(0.6 * cell_points, 4.0, 9.0))
    figure = new_figure(side + 1.6, side + 0.6)
    ax = figure.add_subplot()
    vmax = 1.0 if normalized else max(1.0, float(values.max()))
    annotated = K <= MAX_ANNOTATED
    # Without numbers in the cells, a square-root scale keeps the rare confusions visible.
    norm = Normalize(0.0, vmax) if annotated else PowerNorm(0.5, 0.0, vmax)
    image = ax.imshow(values, cmap="Blues", norm=norm, interpolation="nearest")
    colorbar = figure.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
    label = "fraction of the true class" if normalized else "images"
    colorbar.set_label(label if annotated else f"{label} (square-root scale)")
    if not normalized:
        colorbar.locator = MaxNLocator(integer=True, steps=[1, 2, 5, 10])
        colorbar.update_ticks()
    ticks = np.arange(K)
    longest = max((len(name) for name in class_names), default=0)
    fits = longest * 0.6 * tick_size < 0.9 * cell_points  # names fit across their cells
    rotation = 0 if fits else (90 if K > 40 else 45)
    ax.set_xticks(
        ticks,
        labels=list(class_names),
        fontsize=tick_size,
        rotation=rotation,
        ha="center" if rotation in (0, 90) else "right",
        rotation_mode="anchor" if rotation == 45 else "default",
    )
    ax.set_yticks(ticks, labels=list(class_names), fontsize=tick_size)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if annotated:
        _annotate(ax, values, vmax, normalized, cell_points)
        ax.set_xticks(ticks[:-1] + 0.5, minor=True)
        ax.set_yticks(ticks[:-1] + 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=1)
        ax.tick_params(which="minor", length=0)
    total = int(matrix.sum())
    kind = "row-normalised (recall on the diagonal)" if normalized else "counts"
    ax.set_title(f"Confusion matrix, {kind}\n{total} images, {K} classes", fontsize=10)
    return figure


def _annotate(ax, values: np.ndarray, vmax: float, normalized: bool, cell_points: float) -> None:
    """Write each cell's number, white on dark cells and black on light ones."""
    size = float(np.clip(0.3 * cell_points, 5.0, 10.0))
    for (row, column), value in np.ndenumerate(values):
        text = f"{value:.2f}" if normalized else f"{int(value)}"
        if value == 0:  # zeros fade, so the mistakes stand out
            text, color = "0", "0.65"
        else:
            color = "white" if value > 0.55 * vmax else "black"
        ax.text(column, row, text, ha="center", va="center", fontsize=size, color=color)
