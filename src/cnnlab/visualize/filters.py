"""The first conv layer's filters as a grid: RGB filters in colour, others on a diverging map."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from cnnlab.errors import DataFormatError
from cnnlab.visualize.panels import grid_shape, new_figure, panel_grid

MAX_FILTERS = 256  # more than this and a grid of kernels stops being readable
PANEL_INCHES = 0.62
DIVERGING_MAP = "RdBu_r"  # red positive, blue negative, white zero


def scale_unit(filters: np.ndarray) -> np.ndarray:
    """Each filter min-max scaled to [0, 1] on its own: (F, ...) -> (F, ...); flat ones give 0.5."""
    filters = np.asarray(filters, dtype=np.float64)
    axes = tuple(range(1, filters.ndim))
    low = filters.min(axis=axes, keepdims=True)
    span = filters.max(axis=axes, keepdims=True) - low
    return np.where(span > 0, (filters - low) / np.where(span > 0, span, 1.0), 0.5)


def plot_filters(weights: np.ndarray, *, layer: str = "", max_filters: int = MAX_FILTERS) -> Figure:
    """One panel per filter of a conv weight (F, C, kh, kw).

    Three input channels: each filter shown in colour, scaled to [0, 1] by itself. Otherwise
    (one channel, or the mean over C channels) on a diverging map centred at 0 with one
    shared symmetric scale, so filters compare with each other.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 4 or 0 in weights.shape:
        raise DataFormatError(
            f"conv filters must be a non-empty (F, C, kh, kw) array, got {weights.shape}"
        )
    F, C, kh, kw = weights.shape
    shown = weights[:max_filters]
    count = shown.shape[0]
    max_columns = 8 if count <= 64 else 16
    rows, columns = grid_shape(count, max_columns)
    rgb = C == 3
    width = columns * PANEL_INCHES + (0.3 if rgb else 1.1)  # room for the colour bar
    figure = new_figure(max(width, 3.4), rows * PANEL_INCHES + 0.9)
    axes = panel_grid(figure, count, rows, columns)
    if rgb:
        colour = scale_unit(shown).transpose(0, 2, 3, 1)  # (F, kh, kw, 3)
        for ax, kernel in zip(axes, colour, strict=True):
            ax.imshow(kernel, interpolation="nearest")
        how = "RGB, each filter scaled to [0, 1]"
    else:
        flat = shown[:, 0] if C == 1 else shown.mean(axis=1)  # (F, kh, kw)
        limit = float(np.abs(flat).max()) or 1.0
        for ax, kernel in zip(axes, flat, strict=True):
            image = ax.imshow(
                kernel, cmap=DIVERGING_MAP, vmin=-limit, vmax=limit, interpolation="nearest"
            )
        figure.colorbar(image, ax=axes, shrink=0.8, pad=0.02, label="weight")
        how = "weights, 0 = white" if C == 1 else f"mean over {C} input channels, 0 = white"
    subset = f"first {count} of {F}" if count < F else f"{F}"
    name = f" {layer}" if layer else ""
    figure.suptitle(f"First conv layer{name}: {subset} filters {kh}×{kw}\n({how})", fontsize=10)
    return figure
