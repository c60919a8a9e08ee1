"""Grad-CAM: where the last conv layer looked for the predicted class, as a heat map overlay.

For class score y_c and the layer's activation A (N, F, h, w): channel weights are the
spatial mean of dy_c/dA, the map is ReLU(sum_f w_f A_f), upsampled to the image size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as nnf
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from torch import nn

from cnnlab.errors import ModelError
from cnnlab.visualize.misclassified import check_panels, prediction_title
from cnnlab.visualize.panels import display_image, grid_shape, new_figure, panel_grid, show_image
from cnnlab.visualize.single_view import single_view

HEAT_MAP = "jet"
HEAT_ALPHA = 0.45
PANEL_INCHES = 1.15
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
        with torch.inference_mode(False), torch.enable_grad(), single_view(model):
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
    count = max(1, len(images))
    rows, pairs = grid_shape(count, PAIRS_PER_ROW)
    figure = new_figure(
        max(2 * pairs * PANEL_INCHES + 0.9, 4.6), rows * (PANEL_INCHES + 0.35) + 0.7
    )
    if len(images) == 0:
        figure.text(0.5, 0.5, "no images to explain", ha="center", va="center")
        return figure
    axes = panel_grid(figure, 2 * len(images), rows, 2 * pairs)
    for i in range(len(images)):
        image_ax, overlay_ax = axes[2 * i], axes[2 * i + 1]
        show_image(image_ax, images[i])
        image_ax.set_title(
            prediction_title(
                ids[i], class_names[true[i]], class_names[predicted[i]], confidence[i]
            ),
            fontsize=7,
        )
        base = display_image(images[i])
        base = base if base.ndim == 2 else base.mean(axis=-1)  # gray underneath the heat
        overlay_ax.imshow(base, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        overlay_ax.imshow(
            maps[i], cmap=HEAT_MAP, vmin=0, vmax=1, alpha=HEAT_ALPHA, interpolation="bilinear"
        )
        overlay_ax.set_title("Grad-CAM", fontsize=7)
    scale = ScalarMappable(Normalize(0, 1), HEAT_MAP)  # the bar in full colour, not faded
    figure.colorbar(scale, ax=axes, shrink=0.6, pad=0.01, label="relative importance")
    where = f" of {layer}" if layer else ""
    figure.suptitle(
        f"Grad-CAM{where}\nfor the predicted class of misclassified test images", fontsize=10
    )
    return figure
