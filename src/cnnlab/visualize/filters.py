"""The first conv layer's filters as a grid: RGB filters in colour, others on a diverging map."""

from __future__ import annotations

import numpy as np
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from cnnlab.errors import DataFormatError
from cnnlab.visualize.mosaic import titled_grid, zoom, zoom_factor
from cnnlab.visualize.panels import COLORBAR_ROOM, colorbar_at, grid_shape
from cnnlab.visualize.save import PNG_DPI

MAX_FILTERS = 256  # more than this and a grid of kernels stops being readable
PANEL_INCHES = 0.62  # side of each filter
GAP_PIXELS = 10  # between filters
MIN_WIDTH_INCHES = 3.4  # room for the title over a few filters
DIVERGING_MAP = "RdBu_r"  # red positive, blue negative, white zero


def scale_unit(filters: np.ndarray) -> np.ndarray:
    """Each filter min-max scaled to [0, 1] on its own: (F, ...) -> (F, ...); flat ones give 0.5."""
    filters = np.asarray(filters, dtype=np.float64)
    axes = tuple(range(1, filters.ndim))
    low = filters.min(axis=axes, keepdims=True)
    span = filters.max(axis=axes, keepdims=True) - low
    return np.where(span > 0, (filters - low) / np.where(span > 0, span, 1.0), 0.5)


def filter_tiles(weights: np.ndarray) -> tuple[np.ndarray, ScalarMappable | None, str]:
    """uint8 RGB tiles (F, kh, kw, 3) of conv weights (F, C, kh, kw), their colour scale, and how.

    Three input channels: each filter in colour, scaled to [0, 1] by itself (no scale).
    Otherwise one channel, or the mean over C, on a diverging map with one symmetric scale.
    """
    C = weights.shape[1]
    if C == 3:
        tiles = np.round(scale_unit(weights).transpose(0, 2, 3, 1) * 255).astype(np.uint8)
        return tiles, None, "RGB, each filter scaled to [0, 1]"
    flat = weights[:, 0] if C == 1 else weights.mean(axis=1)  # (F, kh, kw)
    limit = float(np.abs(flat).max()) or 1.0
    scale = ScalarMappable(Normalize(-limit, limit), DIVERGING_MAP)
    tiles = scale.cmap(scale.norm(flat), bytes=True)[..., :3]  # (F, kh, kw, 3)
    how = "weights, 0 = white" if C == 1 else f"mean over {C} input channels, 0 = white"
    return tiles, scale, how


def plot_filters(weights: np.ndarray, *, layer: str = "", max_filters: int = MAX_FILTERS) -> Figure:
    """One panel per filter of a conv weight (F, C, kh, kw), as `filter_tiles` colours them.

    RGB filters are each scaled on their own; others share one scale centred at 0, so
    filters compare with each other, with a colour bar.
    """
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim != 4 or 0 in weights.shape:
        raise DataFormatError(
            f"conv filters must be a non-empty (F, C, kh, kw) array, got {weights.shape}"
        )
    F, C, kh, kw = weights.shape
    tiles, scale, how = filter_tiles(weights[:max_filters])
    count = tiles.shape[0]
    _, columns = grid_shape(count, 8 if count <= 64 else 16)
    subset = f"first {count} of {F}" if count < F else f"{F}"
    name = f" {layer}" if layer else ""
    figure, box = titled_grid(
        zoom(tiles, zoom_factor(max(kh, kw), PANEL_INCHES * PNG_DPI)),
        [],
        columns,
        points=7,
        suptitle=f"First conv layer{name}: {subset} filters {kh}×{kw}\n({how})",
        right=0.0 if scale is None else COLORBAR_ROOM,
        gap=GAP_PIXELS,
        min_width=MIN_WIDTH_INCHES,
    )
    if scale is not None:
        colorbar_at(figure, box, scale, "weight")
    return figure
