"""What a run's training images look like as pixels, saved with the run so `predict` can say
when the images it is given look different (inverted, darker, low contrast, resized).

`measure_images` owns the per-image numbers (mean pixel, background polarity, contrast); the
per-channel ones come from the data profile's `pixel_statistics`. Both scale 0..255.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from cnnlab.config import DataConfig
from cnnlab.data.catalog import lookup
from cnnlab.data.profile import chunk_images, pixel_statistics
from cnnlab.errors import CnnlabError


@dataclass(frozen=True)
class ImageMeasures:
    """Per-image numbers of (N, C, H, W) images, each (N,), pixels on the 0..255 scale."""

    mean: np.ndarray  # the mean pixel over all channels
    border_minus_centre: np.ndarray  # < 0: a dark background (the border darker than the centre)
    contrast: np.ndarray  # brightest minus darkest pixel (over all channels)


@dataclass(frozen=True)
class InputStats:
    """The training images' statistics (over a sample of `images`), as `input_stats.json`."""

    images: int  # training images measured
    channels: int
    image_size: tuple[int, int]  # (H, W) the run takes
    original_size: tuple[int, int] | None  # (H, W) of the training files; None: unknown
    pixel_min: tuple[int, ...]  # per channel
    pixel_max: tuple[int, ...]
    pixel_mean: tuple[float, ...]
    pixel_std: tuple[float, ...]
    image_mean: float  # per-image mean pixel: its average over the images...
    image_mean_std: float  # ...and its standard deviation
    dark_background: float  # fraction of images whose border is darker than their centre
    light_background: float  # fraction whose border is brighter than their centre
    contrast: float  # the median per-image contrast (brightest - darkest pixel)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def stats_from_dict(data: Any, source: str) -> InputStats:
    """`InputStats` from its JSON object (input_stats.json, an export's metadata); a damaged
    one raises naming `source` and what was expected."""
    names = [f.name for f in fields(InputStats)]
    if not isinstance(data, dict) or sorted(data) != sorted(names):
        raise CnnlabError(f"{source}: damaged; expected a JSON object with keys {names}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    for name, value in values.items():
        items = value if isinstance(value, tuple) else (value,)
        if (value is None and name == "original_size") or all(_finite(v) for v in items):
            continue
        raise CnnlabError(
            f"{source}: damaged; {name} must be a finite number or a list of them, got {value!r}"
        )
    return InputStats(**values)


def border_width(H: int, W: int) -> int:
    """Pixels of the frame read as background: an eighth of the shorter side (>= 1)."""
    return max(1, min(H, W) // 8)


def measure_images(images: np.ndarray) -> ImageMeasures:
    """Per-image mean, border-minus-centre and contrast of (N, C, H, W) uint8 or [0, 1] floats."""
    N, C, H, W = images.shape
    scale = 1.0 if images.dtype == np.uint8 else 255.0
    b = border_width(H, W)
    frame = np.ones((H, W), dtype=bool)
    frame[b : H - b, b : W - b] = False  # the border ring; the centre is the middle half
    centre = np.zeros((H, W), dtype=bool)
    centre[H // 4 : H - H // 4, W // 4 : W - W // 4] = True
    means, polarity, contrast = (np.empty(N) for _ in range(3))
    step = chunk_images(images)
    for start in range(0, N, step):
        chunk = images[start : start + step].astype(np.float64).mean(axis=1)  # (n, H, W)
        n = slice(start, start + len(chunk))
        means[n] = chunk.mean(axis=(1, 2))
        polarity[n] = chunk[:, frame].mean(axis=1) - chunk[:, centre].mean(axis=1)
        contrast[n] = chunk.max(axis=(1, 2)) - chunk.min(axis=(1, 2))
    return ImageMeasures(means * scale, polarity * scale, contrast * scale)


def original_size(data: DataConfig, image_size: tuple[int, int]) -> tuple[int, int] | None:
    """(H, W) of the training files: fixed by the format (IDX, CIFAR), or for an image folder
    decoded at its own most common size (no `data.image_size`) that size; else unknown."""
    info, _ = lookup(data.dataset)
    if info.image_shape is not None:
        return tuple(info.image_shape[1:])
    return tuple(image_size) if data.image_size is None else None


def input_stats(images: np.ndarray, original: tuple[int, int] | None) -> InputStats:
    """The statistics of (N, C, H, W) uint8 training images (a sample of them is enough)."""
    _, C, H, W = images.shape
    minimum, maximum, mean, std = pixel_statistics(images)
    measured = measure_images(images)
    return InputStats(
        images=int(images.shape[0]),
        channels=int(C),
        image_size=(int(H), int(W)),
        original_size=None if original is None else (int(original[0]), int(original[1])),
        pixel_min=tuple(int(v) for v in minimum),
        pixel_max=tuple(int(v) for v in maximum),
        pixel_mean=tuple(float(v) for v in mean),
        pixel_std=tuple(float(v) for v in std),
        image_mean=float(measured.mean.mean()),
        image_mean_std=float(measured.mean.std()),
        dark_background=float(np.mean(measured.border_minus_centre < 0)),
        light_background=float(np.mean(measured.border_minus_centre > 0)),
        contrast=float(np.median(measured.contrast)),
    )
