"""Grad-CAM: where the last conv layer looked for the predicted class, as a heat map overlay.

For class score y_c and the layer's activation A (N, F, h, w): channel weights are the
spatial mean of dy_c/dA, the map is ReLU(sum_f w_f A_f), upsampled to the image size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as nnf
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import nn

from cnnlab.errors import ModelError
from cnnlab.visualize.misclassified import check_panels, prediction_title
from cnnlab.visualize.mosaic import rgb_images, titled_grid, zoom, zoom_factor
from cnnlab.visualize.panels import COLORBAR_ROOM, colorbar_at, grid_shape, new_figure
from cnnlab.visualize.save import PNG_DPI

HEAT_MAP = "jet"
HEAT_ALPHA = 0.45
PANEL_INCHES = 1.15  # side of each image and of its overlay
MIN_WIDTH_INCHES = 4.6  # room for the title and the colour bar
PAIRS_PER_ROW = 4  # each image is a pair of panels: the image, then its overlay


def grad_cam(
    model: nn.Module,
    images: torch.Tensor,
    layer: nn.Module,
    classes: torch.Tensor | Sequence[int] | None = None,
) -> np.ndarray:
    """Grad-CAM maps (N, H, W) in [0, 1] of `images` (N, C, H, W) for `classes` (default: predicted).

    `layer` is a module inside `model` (usually its last conv); each map is scaled so its
    peak is 1 (an all-zero map stays 0). The model's mode is left as it is (use eval).
    """
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        with torch.inference_mode(False), torch.enable_grad():
            inputs = images.detach().clone().requires_grad_(True)  # gradients flow even if frozen
            logits = model(inputs)  # (N, K)
            if not captured:
                raise ModelError(
                    f"Grad-CAM layer {type(layer).__name__} was not used by the forward pass"
                )
            target = logits.argmax(dim=1) if classes is None else torch.as_tensor(classes)
            score = logits.gather(1, target.to(logits.device).view(-1, 1)).sum()
            activation = captured[-1]  # (N, F, h, w)
            (gradient,) = torch.autograd.grad(score, activation)
    finally:
        handle.remove()
    with torch.no_grad():
        weights = gradient.mean(dim=(2, 3), keepdim=True)  # (N, F, 1, 1)
        cam = torch.relu((weights * activation).sum(dim=1, keepdim=True))  # (N, 1, h, w)
        cam = nnf.interpolate(
            cam.float(), size=images.shape[-2:], mode="bilinear", align_corners=False
        )
        cam = cam.clamp_min(0)  # (N, 1, H, W)
        peak = cam.amax(dim=(2, 3), keepdim=True)
        cam = torch.where(peak > 0, cam / peak.clamp_min(1e-12), torch.zeros_like(cam))
    return cam[:, 0].cpu().numpy()


def plot_gradcam(
    images: np.ndarray,
    maps: np.ndarray,
    true: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: Sequence[str],
    ids: Sequence[object] | None = None,
    *,
    layer: str = "",
) -> Figure:
    """Each image (N, C, H, W) beside its Grad-CAM map (N, H, W) overlaid as a heat map."""
    images = np.asarray(images)
    maps = np.asarray(maps)
    ids = list(range(len(images))) if ids is None else list(ids)
    check_panels(images, maps, true, predicted, confidence, ids)
    if len(images) == 0:
        figure = new_figure(4.6, 2.2)
        figure.text(0.5, 0.5, "no images to explain", ha="center", va="center")
        return figure
    _, pairs = grid_shape(len(images), PAIRS_PER_ROW)
    pictures = rgb_images(images)  # (N, H, W, 3)
    factor = zoom_factor(max(pictures.shape[1:3]), PANEL_INCHES * PNG_DPI)
    pictures = zoom(pictures, factor)
    tiles = np.stack([pictures, heat_overlay(pictures, maps, factor)], axis=1)  # (N, 2, h, w, 3)
    titles = []
    for i in range(len(images)):
        titles.append(
            prediction_title(ids[i], class_names[true[i]], class_names[predicted[i]], confidence[i])
        )
        titles.append("Grad-CAM")
    where = f" of {layer}" if layer else ""
    figure, box = titled_grid(
        tiles.reshape(-1, *tiles.shape[2:]),
        titles,
        2 * pairs,
        points=7,
        suptitle=f"Grad-CAM{where}\nfor the predicted class of misclassified test images",
        right=COLORBAR_ROOM,
        min_width=MIN_WIDTH_INCHES,
    )
    scale = ScalarMappable(Normalize(0, 1), HEAT_MAP)  # the bar in full colour, not faded
    colorbar_at(figure, box, scale, "relative importance", shrink=0.6)
    return figure


def heat_overlay(pictures: np.ndarray, maps: np.ndarray, factor: int) -> np.ndarray:
    """uint8 RGB (N, h, w, 3): each picture in gray under its map (N, H, W) on the heat colours.

    `pictures` are already zoomed by `factor`; the maps are zoomed smoothly (bilinear) to match.
    """
    gray = pictures.mean(axis=-1, keepdims=True, dtype=np.float32)  # (N, h, w, 1)
    maps = np.asarray(maps, dtype=np.float32)
    if factor > 1:
        rows, columns = bilinear(maps.shape[1], factor), bilinear(maps.shape[2], factor)
        heat = rows @ maps @ columns.T  # (N, H·f, W·f)
    else:
        heat = zoom(maps, factor)
    heat = heat[:, : gray.shape[1], : gray.shape[2]]
    colours = colormaps[HEAT_MAP]
    table = colours(np.arange(colours.N))[:, :3].astype(np.float32) * 255  # (256, 3)
    index = np.clip(heat * colours.N, 0, colours.N - 1).astype(np.intp)  # as the map indexes
    blend = (1 - HEAT_ALPHA) * gray + HEAT_ALPHA * table[index]
    return np.round(blend).astype(np.uint8)


def bilinear(n: int, factor: int) -> np.ndarray:
    """Weights (n·factor, n) that resize n samples `factor` times linearly, edges held.

    The sample grid of `torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`.
    """
    source = np.clip((np.arange(n * factor) + 0.5) / factor - 0.5, 0, n - 1)  # (n·f,)
    low = np.floor(source).astype(np.intp)
    high = np.minimum(low + 1, n - 1)
    weights = np.zeros((n * factor, n), dtype=np.float32)
    np.add.at(weights, (np.arange(n * factor), low), 1 - (source - low))
    np.add.at(weights, (np.arange(n * factor), high), source - low)
    return weights
