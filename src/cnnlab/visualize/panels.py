"""Shared figure scaffolding: a constrained-layout Figure, grid shapes, and showing an image."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from cnnlab.errors import DataFormatError


def new_figure(width: float, height: float) -> Figure:
    """A Figure (inches) whose layout keeps every label inside; no pyplot involved."""
    return Figure(figsize=(width, height), layout="constrained")


def grid_shape(count: int, max_columns: int) -> tuple[int, int]:
    """(rows, columns) of a near-square grid for `count` panels, at most `max_columns` wide.

    A slightly wider grid that `count` fills exactly is preferred (32 -> 4 x 8, not 6 x 6).
    """
    columns = max(1, min(max_columns, math.ceil(math.sqrt(count))))
    exact = [c for c in range(columns, min(columns + 2, max_columns) + 1) if count % c == 0]
    columns = exact[0] if exact else columns
    return max(1, math.ceil(count / columns)), columns


def panel_grid(figure: Figure, count: int, rows: int, columns: int) -> list[Axes]:
    """`count` image panels (no ticks) filling a rows x columns grid row by row; the rest removed."""
    axes = np.asarray(figure.subplots(rows, columns, squeeze=False)).ravel()
    for ax in axes[count:]:
        ax.remove()
    for ax in axes[:count]:
        ax.set_xticks([])
        ax.set_yticks([])
    return list(axes[:count])


def display_image(image: np.ndarray) -> np.ndarray:
    """A (C, H, W) image as Matplotlib shows it: (H, W) for one channel, (H, W, 3) for three."""
    image = np.asarray(image)
    if image.ndim != 3:
        raise DataFormatError(f"expected a (C, H, W) image, got shape {image.shape}")
    if image.shape[0] == 1:
        return image[0]  # (H, W)
    if image.shape[0] == 3:
        return np.moveaxis(image, 0, -1)  # (H, W, 3)
    return image.mean(axis=0)  # other channel counts: their mean, shown in gray


def show_image(ax: Axes, image: np.ndarray) -> None:
    """Draw a uint8 (C, H, W) image (or floats in [0, 1]) with its true intensities."""
    shown = display_image(image)
    vmax = 255 if np.issubdtype(shown.dtype, np.integer) else 1.0
    if shown.ndim == 2:
        ax.imshow(shown, cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
    else:
        ax.imshow(shown if vmax == 255 else np.clip(shown, 0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def short(name: str, limit: int = 14) -> str:
    """A class name cut to `limit` characters (with an ellipsis) so panel titles fit."""
    return name if len(name) <= limit else name[: limit - 1] + "…"
