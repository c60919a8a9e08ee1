"""A grid of misclassified test images with their true and predicted labels and confidence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from cnnlab.errors import DataFormatError
from cnnlab.visualize.mosaic import rgb_images, titled_grid, zoom, zoom_factor
from cnnlab.visualize.panels import grid_shape, new_figure, short
from cnnlab.visualize.save import PNG_DPI

MAX_SHOWN = 16  # mistakes drawn, most confident first
PANEL_INCHES = 1.15  # side of each image
TITLE_POINTS = 7.5
MIN_WIDTH_INCHES = 3.6  # room for the title over a few mistakes


def select_misclassified(
    y_true: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, limit: int = MAX_SHOWN
) -> np.ndarray:
    """Indices of up to `limit` wrong predictions, the most confident first (ties by index)."""
    y_true, predicted = np.asarray(y_true), np.asarray(predicted)
    wrong = np.flatnonzero(y_true != predicted)  # (M,)
    order = np.argsort(-np.asarray(confidence, dtype=np.float64)[wrong], kind="stable")
    return wrong[order][:limit]


def prediction_title(image_id: object, true: str | None, predicted: str, confidence: float) -> str:
    """Three short lines for a panel: the image id, its true class, the prediction and its confidence."""
    lines = [f"#{image_id}"] if image_id is not None else []
    if true is not None:
        lines.append(f"true: {short(true)}")
    lines.append(f"pred: {short(predicted)} ({confidence:.2f})")
    return "\n".join(lines)


def check_panels(images: np.ndarray, *columns: np.ndarray) -> None:
    """Every per-image column must have one entry per image in `images` (N, C, H, W)."""
    if images.ndim != 4:
        raise DataFormatError(f"images must be (N, C, H, W), got shape {images.shape}")
    lengths = {len(column) for column in columns}
    if lengths - {images.shape[0]}:
        raise DataFormatError(
            f"{images.shape[0]} images but per-image arrays of lengths {sorted(lengths)}"
        )


def plot_misclassified(
    images: np.ndarray,
    true: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: Sequence[str],
    ids: Sequence[object] | None = None,
) -> Figure:
    """One panel per image (N, C, H, W) titled with its id, true class, prediction and confidence."""
    images = np.asarray(images)
    ids = list(range(len(images))) if ids is None else list(ids)
    check_panels(images, true, predicted, confidence, ids)
    if len(images) == 0:
        figure = new_figure(3.6, 2.2)
        figure.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return figure
    _, columns = grid_shape(len(images), 8)
    tiles = rgb_images(images)  # (N, H, W, 3)
    tiles = zoom(tiles, zoom_factor(max(tiles.shape[1:3]), PANEL_INCHES * PNG_DPI))
    titles = [
        prediction_title(ids[i], class_names[true[i]], class_names[predicted[i]], confidence[i])
        for i in range(len(images))
    ]
    figure, _ = titled_grid(
        tiles,
        titles,
        columns,
        points=TITLE_POINTS,
        suptitle=f"Misclassified test images\n({len(images)}, most confident first)",
        min_width=MIN_WIDTH_INCHES,
    )
    return figure
