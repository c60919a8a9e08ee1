"""Feature maps of chosen conv layers for chosen images: one grid per image, input first."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.figure import Figure
from torch import nn

from cnnlab.data.arrays import Split
from cnnlab.errors import DataError, DataFormatError, ModelError
from cnnlab.visualize.layers import conv_layers, find_layers
from cnnlab.visualize.mosaic import (
    FRAME_GRAY,
    rgb_images,
    show_mosaic,
    stamp,
    text_inks,
    zoom,
    zoom_factor,
)
from cnnlab.visualize.panels import PAD_INCHES, new_figure, short, text_height, widest
from cnnlab.visualize.save import PNG_DPI, save_figure

MAX_CHANNELS = 16  # channels drawn per layer (the first ones)
IMAGES_PER_PAGE = 10  # images per PNG; more go to feature_maps_2.png, ...
MAX_DEFAULT_IMAGES = 10  # default images (one per class): at most this many classes, spread out
PANEL_INCHES = 0.5  # side of each channel's map
ROW_GAP = 6  # pixels between layer rows, and around their labels
BLOCK_GAP = 14  # pixels between images
FEATURE_MAP = "viridis"


def capture_activations(
    model: nn.Module, images: torch.Tensor, layers: Sequence[tuple[str, nn.Module]]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Outputs of `layers` (name -> (N, C', h, w)) and the logits (N, K) for `images` (N, C, H, W)."""
    captured: dict[str, np.ndarray] = {}

    def hook_for(name: str):
        def hook(module, inputs, output):
            captured[name] = output.detach().float().cpu().numpy().copy()

        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in layers]
    try:
        with torch.inference_mode():
            logits = model(images).float().cpu().numpy()
    finally:
        for handle in handles:
            handle.remove()
    for name, _ in layers:
        if name not in captured:
            raise ModelError(f"layer {name!r} was not used by the model's forward pass")
        if captured[name].ndim != 4:
            raise ModelError(
                f"layer {name!r} gives outputs of shape {captured[name].shape}; feature maps "
                f"need (N, C, H, W), so pick a conv layer"
            )
    return captured, logits


def tile_maps(stack: np.ndarray, gap: int = 1) -> np.ndarray:
    """Channel maps (C', h, w) side by side, each min-max scaled to [0, 1], NaN gaps between.

    One array per layer row: a page is one mosaic however many channels it shows.
    """
    C, h, w = stack.shape
    low = stack.min(axis=(1, 2), keepdims=True)
    span = stack.max(axis=(1, 2), keepdims=True) - low
    scaled = np.where(span > 0, (stack - low) / np.where(span > 0, span, 1.0), 0.5)
    tiled = np.full((h, C * (w + gap) - gap), np.nan)  # (h, C·(w+gap)-gap)
    for c in range(C):
        tiled[:, c * (w + gap) : c * (w + gap) + w] = scaled[c]
    return tiled


def layer_rows(stack: np.ndarray, max_channels: int) -> np.ndarray:
    """uint8 RGB rows (N, h', w', 3): the first channels of (N, C', h, w) maps side by side, coloured.

    Each map on its own scale (`tile_maps`), white gaps between, zoomed to about PANEL_INCHES.
    """
    N, C, h, w = stack.shape
    colours = colormaps[FEATURE_MAP].with_extremes(bad="white")
    gap = max(1, w // 8)
    tiled = np.stack([tile_maps(maps[:max_channels], gap) for maps in stack])  # (N, h, ·)
    rows = colours(tiled, bytes=True)[..., :3]
    return zoom(rows, zoom_factor(max(h, w), PANEL_INCHES * PNG_DPI))


def layer_label(name: str, maps: np.ndarray, max_channels: int) -> str:
    """Three lines naming a layer, the channels shown of its (N, C', h, w) maps, and their size."""
    C, h, w = maps.shape[1:]
    shown = min(max_channels, C)
    which = f"channels 0–{shown - 1} of {C}" if shown < C else f"{C} channels"
    return f"{name}\n{which}\n{h}×{w}"


def plot_feature_maps(
    images: np.ndarray,
    activations: Mapping[str, np.ndarray],
    titles: Sequence[str],
    *,
    max_channels: int = MAX_CHANNELS,
) -> Figure:
    """A block per image (N, C, H, W): its title, the input, then the first channels of each layer.

    `activations` maps layer names to (N, C', h, w) arrays (in the order they are drawn);
    each map is coloured on its own scale. The page is one mosaic drawn pixel for pixel; the
    labels that repeat in every block are drawn once and stamped, the titles are texts.
    """
    images = np.asarray(images)
    N = images.shape[0]
    if not activations or any(a.shape[0] != N for a in activations.values()) or len(titles) != N:
        raise DataFormatError(
            f"feature maps need one activation per image for every layer and one title per "
            f"image: {N} images, {len(titles)} titles, layers "
            f"{ {k: v.shape for k, v in activations.items()} }"
        )
    rows = [layer_rows(maps, max_channels) for maps in activations.values()]  # (N, h_l, w_l, 3)
    labels = text_inks(
        [layer_label(n, a, max_channels) for n, a in activations.items()], 7, "right"
    )
    body = sum(r.shape[1] for r in rows) + (len(rows) - 1) * ROW_GAP  # pixels
    inputs = rgb_images(images)
    inputs = zoom(inputs, zoom_factor(max(inputs.shape[1:3]), body))  # (N, s, s', 3)
    (word,) = text_inks(["input"], 7)
    blocks = [page_block(inputs[i], [r[i] for r in rows], labels, word) for i in range(N)]
    heading = text_height(1, 8) + 2  # pixels above each block for its title
    width = max(max(b.shape[1] for b in blocks), math.ceil(widest(titles, 8)) + 2)
    page = np.full(
        (N * (heading + blocks[0].shape[0] + BLOCK_GAP) - BLOCK_GAP, width, 4), 255, np.uint8
    )  # RGBA, opaque white
    for i, block in enumerate(blocks):
        y = i * (heading + block.shape[0] + BLOCK_GAP) + heading
        page[y : y + block.shape[0], : block.shape[1], :3] = block
    figure = new_figure(width / PNG_DPI + 2 * PAD_INCHES, page.shape[0] / PNG_DPI + 2 * PAD_INCHES)
    pixels = show_mosaic(figure, page, PAD_INCHES, PAD_INCHES)
    for i, title in enumerate(titles):
        y = i * (heading + blocks[0].shape[0] + BLOCK_GAP)
        figure.text(0, y, title, fontsize=8, ha="left", va="top", transform=pixels)
    return figure


def page_block(
    image: np.ndarray, rows: Sequence[np.ndarray], labels: Sequence[np.ndarray], word: np.ndarray
) -> np.ndarray:
    """One image's block (uint8 RGB): the `word` ink over the image (h, w, 3), then each layer's
    row (h_l, w_l, 3) right of its label's ink (inks from `text_inks`)."""
    h, w = image.shape[:2]
    label_width = max(ink.shape[1] for ink in labels) + 2 * ROW_GAP
    maps_x = w + 2 + label_width  # where the channel rows start
    body = sum(r.shape[0] for r in rows) + (len(rows) - 1) * ROW_GAP
    top = word.shape[0] + 2
    block = np.full(
        (top + max(body + 1, h + 2), maps_x + max(r.shape[1] for r in rows), 3), 255, np.uint8
    )
    stamp(block, word, (w + 2 - word.shape[1]) // 2, 0)
    block[top : top + h + 2, : w + 2] = FRAME_GRAY
    block[top + 1 : top + h + 1, 1 : w + 1] = image
    y = top + 1
    for row, ink in zip(rows, labels, strict=True):
        block[y : y + row.shape[0], maps_x : maps_x + row.shape[1]] = row
        stamp(block, ink, maps_x - ROW_GAP - ink.shape[1], y + (row.shape[0] - ink.shape[0]) // 2)
        y += row.shape[0] + ROW_GAP
    return block


def default_images(labels: np.ndarray, num_classes: int) -> np.ndarray:
    """The first test image of each class (classes spread out when there are many)."""
    classes = np.arange(num_classes)
    if num_classes > MAX_DEFAULT_IMAGES:
        classes = np.unique(np.linspace(0, num_classes - 1, MAX_DEFAULT_IMAGES).round().astype(int))
    firsts = [np.flatnonzero(labels == k) for k in classes]
    return np.array([found[0] for found in firsts if found.size], dtype=np.int64)


def resolve_images(
    images: object, test: Split | None, in_shape: tuple[int, int, int], num_classes: int
) -> tuple[np.ndarray, np.ndarray | None, list[object]]:
    """(uint8 images (N, C, H, W), their true labels or None, their ids) from indices or arrays."""
    if images is None or _is_index_list(images):
        if test is None:
            raise DataError("feature maps by test index need the run's test split, which it lacks")
        if images is None:
            indices = default_images(test.labels, num_classes)
        else:
            indices = np.asarray(images, dtype=np.int64).ravel()
        bad = indices[(indices < 0) | (indices >= len(test))]
        if bad.size:
            raise DataError(
                f"test image index {int(bad[0])} is out of range: the test split has "
                f"{len(test)} images (0..{len(test) - 1})"
            )
        return test.images[indices], test.labels[indices], [int(i) for i in indices]
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[None]  # one (C, H, W) image
    if array.ndim != 4 or tuple(array.shape[1:]) != tuple(in_shape):
        raise DataFormatError(
            f"images must be test indices or an array of shape (N, {', '.join(map(str, in_shape))}) "
            f"like the model's input; got shape {array.shape}"
        )
    if array.dtype != np.uint8:
        if array.size and (array.min() < 0 or array.max() > 1):
            raise DataFormatError(
                f"float images must lie in [0, 1] (or pass uint8 in 0..255); got values in "
                f"[{array.min():.3g}, {array.max():.3g}]"
            )
        array = np.round(np.asarray(array, dtype=np.float64) * 255).astype(np.uint8)
    return array, None, [f"image {i}" for i in range(array.shape[0])]


def _is_index_list(images: object) -> bool:
    """True for a sequence or 1-D array of integers (test indices)."""
    if isinstance(images, np.ndarray):
        return images.ndim <= 1 and np.issubdtype(images.dtype, np.integer)
    return (
        isinstance(images, Sequence)
        and all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in images)
        and len(images) > 0
    )


def render_feature_maps(
    model: nn.Module,
    class_names: Sequence[str],
    images: np.ndarray,
    labels: np.ndarray | None,
    ids: Sequence[object],
    layers: Sequence[str] | None,
    out_dir: Path,
    *,
    max_channels: int = MAX_CHANNELS,
) -> list[Path]:
    """Feature-map pages for uint8 `images` (N, C, H, W) through `model`, saved under `out_dir`."""
    if layers is None:
        chosen = conv_layers(model)[:2]
        if not chosen:
            raise ModelError(
                f"model {type(getattr(model, 'net', model)).__name__} has no Conv2d layer"
            )
    else:
        chosen = find_layers(model, layers)
    device = next(model.parameters()).device
    inputs = torch.from_numpy(np.ascontiguousarray(images)).to(device, torch.float32) / 255
    activations, logits = capture_activations(model, inputs, chosen)
    probabilities = torch.softmax(torch.from_numpy(logits).double(), dim=1).numpy()  # (N, K)
    predicted = probabilities.argmax(axis=1)
    titles = []
    for i, image_id in enumerate(ids):
        where = f"test #{image_id}" if labels is not None else str(image_id)
        truth = f"true {short(class_names[labels[i]], 20)}, " if labels is not None else ""
        titles.append(
            f"{where}: {truth}predicted {short(class_names[predicted[i]], 20)} "
            f"({probabilities[i, predicted[i]]:.2f})"
        )
    paths = []
    for page, start in enumerate(range(0, len(images), IMAGES_PER_PAGE), start=1):
        stop = start + IMAGES_PER_PAGE
        figure = plot_feature_maps(
            images[start:stop],
            {name: a[start:stop] for name, a in activations.items()},
            titles[start:stop],
            max_channels=max_channels,
        )
        name = "feature_maps" if page == 1 else f"feature_maps_{page}"
        paths += save_figure(figure, out_dir / name)
    return paths
