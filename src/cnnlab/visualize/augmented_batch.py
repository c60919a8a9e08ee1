"""The augmented-batch preview: the first training batch of epoch 1 exactly as the model sees it.

The batch is replayed from the seed through the run's own training loader (order, per-image
augmentation, then MixUp / CutMix), so `cnnlab data preview` before training and the run's
figures/augmented_batch.png show the same pixels. Each image is titled with its target: a
class name, or for a mixed image both classes with their weights ("7 .62 / 3 .38").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from cnnlab.config import DataConfig, ExperimentConfig
from cnnlab.data.arrays import Split
from cnnlab.data.augment import AugmentSpec
from cnnlab.data.configured import load_configured
from cnnlab.data.mixing import MixSpec, first_batch, training_loader
from cnnlab.errors import DataFormatError
from cnnlab.training.device import resolve_device
from cnnlab.visualize.mosaic import rgb_images, titled_grid, zoom, zoom_factor
from cnnlab.visualize.panels import grid_shape, short
from cnnlab.visualize.save import PNG_DPI, save_figure

MAX_SHOWN = 48  # images of the batch drawn, in batch order
PANEL_INCHES = 0.8  # side of each image
TITLE_POINTS = 6.5
MIN_WIDTH_INCHES = 4.0


def describe_batch(data: DataConfig | dict) -> str:
    """What happened to the batch, in words: the augmentation, then the mixing."""
    augment = data.get("augment") if isinstance(data, dict) else data.augment
    return (
        f"augmentation: {AugmentSpec.parse(augment or None).describe()}; "
        f"mixing: {MixSpec.of(data).describe()}"
    )


def target_title(target: np.ndarray, class_names: Sequence[str]) -> str:
    """A panel's title from its soft target (K,): the class, or the two largest with weights."""
    order = np.argsort(-target, kind="stable")
    first, second = int(order[0]), int(order[1]) if len(order) > 1 else None
    if second is None or target[second] <= 0:
        return short(class_names[first])

    def weight(k: int) -> str:
        return f"{target[k]:.2f}".removeprefix("0")  # .62

    return (
        f"{short(class_names[first], 8)} {weight(first)} / "
        f"{short(class_names[second], 8)} {weight(second)}"
    )


def plot_augmented_batch(
    images: np.ndarray, targets: np.ndarray, class_names: Sequence[str], heading: str = ""
) -> Figure:
    """One panel per image (N, C, H, W) in [0, 1], titled from its soft target (N, K)."""
    images, targets = np.asarray(images), np.asarray(targets)
    if images.ndim != 4 or targets.shape != (images.shape[0], len(class_names)):
        raise DataFormatError(
            f"expected images (N, C, H, W) and targets (N, {len(class_names)}), got shapes "
            f"{images.shape} and {targets.shape}"
        )
    _, columns = grid_shape(len(images), 8)
    tiles = rgb_images(images)  # (N, H, W, 3) uint8
    tiles = zoom(tiles, zoom_factor(max(tiles.shape[1:3]), PANEL_INCHES * PNG_DPI))
    titles = [target_title(target, class_names) for target in targets]
    suptitle = "The first training batch of epoch 1, as the model sees it"
    figure, _ = titled_grid(
        tiles,
        titles,
        columns,
        points=TITLE_POINTS,
        suptitle=f"{suptitle}\n{heading}" if heading else suptitle,
        min_width=MIN_WIDTH_INCHES,
    )
    return figure


def short_heading(config: ExperimentConfig, shown: int, batch: int) -> str:
    """The figure's second title line: images shown, augmentation and mixing in short form."""
    augment = AugmentSpec.parse(config.data.augment or None).to_string() or "none"
    mixing = ", ".join(f"{name} α={alpha:g}" for name, alpha in MixSpec.of(config.data).methods())
    return f"{shown} of {batch} images; augment: {augment}; mixing: {mixing or 'none'}"


def batch_preview(
    config: ExperimentConfig,
    train: Split,
    class_names: Sequence[str],
    device: torch.device | str = "cpu",
) -> Figure:
    """The first batch of epoch 1 replayed from `config`'s seed on `device` (the run's device
    draws the run's augmentation), up to MAX_SHOWN of its images."""
    loader = training_loader(
        train,
        config.data,
        len(class_names),
        batch_size=config.train.batch_size,
        seed=config.train.seed,
        device=device,
    )
    images, targets = first_batch(loader, len(class_names))
    shown = min(MAX_SHOWN, images.shape[0])
    heading = short_heading(config, shown, images.shape[0])
    pixels = images[:shown].float().cpu().numpy()  # (N, C, H, W) in [0, 1]
    return plot_augmented_batch(pixels, targets[:shown].cpu().numpy(), class_names, heading)


def write_preview(config: ExperimentConfig, out: Path) -> Path:
    """`cnnlab data preview`: load the configured data, draw the batch preview to `out` (PNG),
    on the device training would use (a CUDA generator draws other augmentations than a CPU's)."""
    device = resolve_device(config.train.device)
    dataset = load_configured(config.data, config.train.seed)
    figure = batch_preview(config, dataset.split("train"), dataset.class_names, device)
    return save_figure(figure, Path(out).with_suffix(".png"))[0]
