"""A grid of misclassified test images with their true and predicted labels and confidence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from cnnlab.errors import DataFormatError
from cnnlab.visualize.panels import grid_shape, new_figure, panel_grid, short, show_image

MAX_SHOWN = 16  # mistakes drawn, most confident first
PANEL_INCHES = 1.3
TITLE_POINTS = 7.5


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
    count = max(1, len(images))
    rows, columns = grid_shape(count, 8)
    figure = new_figure(max(columns * PANEL_INCHES, 3.6), rows * (PANEL_INCHES + 0.3) + 0.6)
    if len(images) == 0:
        figure.text(0.5, 0.5, "no misclassified images", ha="center", va="center")
        return figure
    axes = panel_grid(figure, count, rows, columns)
    for i, ax in enumerate(axes):
        show_image(ax, images[i])
        ax.set_title(
            prediction_title(
                ids[i], class_names[true[i]], class_names[predicted[i]], confidence[i]
            ),
            fontsize=TITLE_POINTS,
        )
    figure.suptitle(
        f"Misclassified test images\n({len(images)}, most confident first)", fontsize=10
    )
    return figure
