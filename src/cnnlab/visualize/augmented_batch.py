"""The augmented-batch preview: the first training batch of epoch 1 exactly as the model sees it.

The batch is replayed from the seed through the run's own training loader (order, per-image
augmentation, then MixUp / CutMix), so `cnnlab data preview` before training and the run's
figures/augmented_batch.png show the same pixels. Each image is titled with its target: a
class name, or for a mixed image both classes with their weights ("7 .62 / 3 .38").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import get_hinting_flag
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, findfont, get_font

from cnnlab.config import DataConfig, ExperimentConfig
from cnnlab.data.arrays import Split
from cnnlab.data.augment import AugmentSpec
from cnnlab.data.configured import load_configured
from cnnlab.data.mixing import MixSpec, first_batch, training_loader
from cnnlab.errors import DataFormatError
from cnnlab.training.device import resolve_device
from cnnlab.visualize.mosaic import (
    FRAME_GRAY,
    TITLE_GAP,
    rgb_images,
    show_mosaic,
    stamp,
    text_inks,
    zoom,
    zoom_factor,
)
from cnnlab.visualize.panels import PAD_INCHES, grid_shape, new_figure, short, text_height, widest
from cnnlab.visualize.save import PNG_DPI, save_figure

MAX_SHOWN = 48  # images of the batch drawn, in batch order
PANEL_INCHES = 0.8  # side of each image
TITLE_POINTS = 6.5
MIN_WIDTH_INCHES = 4.0
GAP = 8  # pixels between columns and between rows
PAD_GLYPH = 16  # pixels of room past a title's advance for its last glyph's ink


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
    if second is None or target[second] < 0.005:  # unmixed, or its partner's weight shows .00
        return short(class_names[first])

    def weight(k: int) -> str:
        return f"{target[k]:.2f}".removeprefix("0")  # .62

    return (
        f"{short(class_names[first], 10)} {weight(first)} / "
        f"{short(class_names[second], 10)} {weight(second)}"
    )


def advances(chars: set[str], points: float) -> dict[str, float]:
    """Each character's hinted advance in pixels at PNG_DPI (as `panels.widest` sums them)."""
    font = get_font(findfont(FontProperties(size=points)))
    font.set_size(points, PNG_DPI)
    flags = get_hinting_flag()
    return {char: font.load_char(ord(char), flags=flags).horiAdvance / 64 for char in chars}


def title_inks(titles: Sequence[str], points: float) -> list[np.ndarray]:
    """Each title's ink (h, w) in [0, 1], set from its characters' glyphs, drawn once each.

    A mixed batch's titles are nearly all different, and Agg costs about 3 ms per text; the
    few distinct characters cost one pass (kerning is lost, which at this size does not show).
    """
    chars = sorted(set("".join(titles)) - {" "})
    glyphs = dict(zip(chars, text_inks(chars, points, ha="left"), strict=True))
    advance = advances({*chars, " "}, points)
    height = text_height(1, points) + 2
    inks = []
    for title in titles:
        ink = np.zeros((height, math.ceil(sum(advance[c] for c in title)) + 2 + PAD_GLYPH))
        x = 0.0
        for char in title:
            if char != " ":
                glyph = glyphs[char][:, : ink.shape[1] - round(x)]
                region = ink[:, round(x) : round(x) + glyph.shape[1]]
                np.maximum(region, glyph, out=region)
            x += advance[char]
        inks.append(ink[:, : math.ceil(x) + 2])
    return inks


def titled_mosaic(tiles: np.ndarray, inks: Sequence[np.ndarray], columns: int) -> np.ndarray:
    """uint8 RGB tiles (N, h, w, 3), each framed under its title's ink, in rows of `columns`
    on white: RGBA (H, W, 4). A column is as wide as the widest title, rows GAP apart."""
    N, h, w = tiles.shape[:3]
    cell = max(w + 2, max(ink.shape[1] for ink in inks)) + GAP  # a column's width, in pixels
    band = max(ink.shape[0] for ink in inks) + TITLE_GAP  # the title's height above a tile
    rows = math.ceil(N / columns)
    image = np.full((rows * (band + h + 2 + GAP) - GAP, columns * cell - GAP, 4), 255, np.uint8)
    for i, (tile, ink) in enumerate(zip(tiles, inks, strict=True)):
        x = (i % columns) * cell + (cell - GAP - w) // 2  # the tile's left, centred in its cell
        y = (i // columns) * (band + h + 2 + GAP) + band + 1  # its top, under the title
        image[y - 1 : y + h + 1, x - 1 : x + w + 1, :3] = FRAME_GRAY
        image[y : y + h, x : x + w, :3] = tile
        stamp(image, ink, x + (w - ink.shape[1]) // 2, y - 1 - TITLE_GAP - ink.shape[0])
    return image


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
    inks = title_inks([target_title(target, class_names) for target in targets], TITLE_POINTS)
    image = titled_mosaic(tiles, inks, columns)
    suptitle = "The first training batch of epoch 1, as the model sees it"
    suptitle = f"{suptitle}\n{heading}" if heading else suptitle
    header = PAD_INCHES + (text_height(suptitle.count("\n") + 1, 10) + 10) / PNG_DPI  # inches
    inches = image.shape[1] / PNG_DPI
    heading_inches = widest([suptitle], 10) / PNG_DPI + 2 * PAD_INCHES
    width = max(inches + 2 * PAD_INCHES, heading_inches, MIN_WIDTH_INCHES)
    figure = new_figure(width, header + image.shape[0] / PNG_DPI + PAD_INCHES)
    left = (width - inches) / 2
    show_mosaic(figure, image, left, header)
    y = 1 - PAD_INCHES / figure.get_figheight()
    figure.suptitle(suptitle, fontsize=10, x=(left + inches / 2) / width, y=y, va="top")
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
