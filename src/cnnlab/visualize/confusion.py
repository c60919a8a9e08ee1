"""The confusion matrix as a figure: counts or row-normalised, readable from 2 to 100+ classes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import Normalize, PowerNorm, to_rgb
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnlab.errors import DataFormatError
from cnnlab.visualize.mosaic import PixelImage, stamp, text_inks
from cnnlab.visualize.panels import (
    colorbar_at,
    colorbar_width,
    fit_with_colorbar,
    new_figure,
    place_colorbar,
)

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
    speaks and tick labels shrink with the cell size so all class names stay listed. The
    cells are drawn as one picture, whole pixels each, their numbers stamped in.
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
    image = ax.imshow(values, cmap="Blues", norm=norm)  # limits, aspect, the colour bar's scale
    image.set_visible(False)  # the cells are drawn by `cell_pixels`, once the layout is fixed
    label = "fraction of the true class" if normalized else "images"
    label = label if annotated else f"{label} (square-root scale)"
    colorbar = colorbar_at(figure, ax.get_position().bounds, image, label)
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
    total = int(matrix.sum())
    kind = "row-normalised (recall on the diagonal)" if normalized else "counts"
    ax.set_title(f"Confusion matrix, {kind}\n{total} images, {K} classes", fontsize=10)
    fit_with_colorbar(ax, colorbar, square=True)
    cell = whole_cells(ax, K)
    place_colorbar(colorbar.ax, ax.get_position().bounds, width=colorbar_width(colorbar))
    colours = image.cmap(image.norm(values), bytes=True)  # (K, K, 4)
    labels = cell_labels(values, vmax, normalized) if annotated else []
    size = float(np.clip(0.3 * cell_points, 5.0, 10.0))
    x0, y0, w, h = ax.get_position().bounds
    W, H = figure.get_size_inches()
    box = (x0 * W, y0 * H, (x0 + w) * W, (y0 + h) * H)  # inches
    ax.add_artist(PixelImage(cell_pixels(colours, cell, labels, size), box))
    return figure


def cell_labels(values: np.ndarray, vmax: float, normalized: bool) -> list[tuple[str, str]]:
    """Each cell's number and colour, row by row: white on dark cells, black on light ones."""
    labels = []
    for value in values.ravel():
        text = f"{value:.2f}" if normalized else f"{int(value)}"
        if value == 0:  # zeros fade, so the mistakes stand out
            labels.append(("0", "0.65"))
        else:
            labels.append((text, "white" if value > 0.55 * vmax else "black"))
    return labels


def whole_cells(ax: Axes, K: int) -> int:
    """Shrink the square axes, centred, to K cells of a whole number of pixels; returns it."""
    figure = ax.get_figure(root=True)
    W, H = figure.bbox.width, figure.bbox.height  # pixels
    x0, y0, w, h = ax.get_position().bounds
    cell = max(1, int(min(w * W, h * H) // K))
    left = round(x0 * W + (w * W - K * cell) / 2)
    bottom = round(y0 * H + (h * H - K * cell) / 2)
    ax.set_position((left / W, bottom / H, K * cell / W, K * cell / H))
    return cell


def cell_pixels(
    colours: np.ndarray, cell: int, labels: Sequence[tuple[str, str]], points: float
) -> np.ndarray:
    """The cells' colours (K, K, 4) as an image of `cell` pixels each, with white lines between
    them and each `labels` text (row by row) stamped in its colour when there are labels."""
    K = colours.shape[0]
    pixels = colours.repeat(cell, axis=0).repeat(cell, axis=1)  # (K·cell, K·cell, 4)
    if not labels:
        return pixels
    for edge in range(cell, K * cell, cell):  # 1-point lines, as a grid would draw them
        pixels[edge - 1 : edge + 1, :, :3] = 255
        pixels[:, edge - 1 : edge + 1, :3] = 255
    texts = sorted({text for text, _ in labels})
    inks = dict(zip(texts, text_inks(texts, points), strict=True))
    for index, (text, colour) in enumerate(labels):
        ink = inks[text]
        row, column = divmod(index, K)
        x = column * cell + (cell - ink.shape[1]) // 2
        y = row * cell + (cell - ink.shape[0]) // 2
        stamp(pixels, ink, x, y, to_rgb(colour))
    return pixels
