"""Compare the images given to `predict` with the run's training images (`input_stats.json`)
and say, with a remedy, where they differ: inverted polarity, brightness, contrast, size.

A model is confidently wrong on images unlike its training data (black-on-white digits for a
white-on-black MNIST net); these checks make that visible instead of silent. Each check looks
at the majority of the images, so one odd image among many says nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnnlab.data.input_stats import InputStats, measure_images

CONSISTENT = 0.9  # training backgrounds at least this uniformly dark (or light) make a polarity
MEAN_STDS = 3.0  # a per-image mean this many training std from theirs is "far off"
LOW_CONTRAST = 1 / 3  # of the training images' median contrast
SIZE_FACTOR = 4.0  # a side this many times larger or smaller than the training files'
ASPECT_FACTOR = 1.5  # width/height ratio this many times the training files'


def _wxh(size: tuple[int, int]) -> str:
    """(H, W) as people write it: WxH."""
    return f"{size[1]}x{size[0]}"


def _most(flags: np.ndarray) -> bool:
    return bool(flags.sum() * 2 > len(flags))


def _example(flags: np.ndarray, names: Sequence[str]) -> str:
    return str(names[int(np.flatnonzero(flags)[0])])


def _polarity(stats: InputStats, border: np.ndarray, names, inverted: bool) -> str | None:
    """Inputs whose background is mostly the opposite of the training images' uniform one."""
    if stats.dark_background >= CONSISTENT:
        trained, flags, theirs = "dark", border > 0, "light"
    elif stats.light_background >= CONSISTENT:
        trained, flags, theirs = "light", border < 0, "dark"
    else:
        return None  # photos: no background polarity to compare
    if not _most(flags):
        return None
    share = stats.dark_background if trained == "dark" else stats.light_background
    remedy = "drop --invert" if inverted else "pass --invert (255 - pixel before the model)"
    return (
        f"{flags.sum()} of {len(flags)} images have a {theirs} background (border {theirs}er "
        f"than the centre, e.g. {_example(flags, names)}), but {share:.0%} of the training "
        f"images have a {trained} one: the run sees these inverted; {remedy}"
    )


def _brightness(stats: InputStats, means: np.ndarray, names) -> str | None:
    """Inputs whose mean pixel is mostly far outside the training images' spread."""
    spread = max(stats.image_mean_std, 1.0)
    flags = np.abs(means - stats.image_mean) > MEAN_STDS * spread
    if not _most(flags):
        return None
    return (
        f"{flags.sum()} of {len(flags)} images have a mean pixel far from the training "
        f"images' (median {np.median(means):.0f} vs {stats.image_mean:.0f} ± {spread:.0f} per "
        f"image, more than {MEAN_STDS:g} std off, e.g. {_example(flags, names)}): they are lit, "
        f"scaled or encoded differently, so expect wrong predictions; bring them to the "
        f"training data's look first"
    )


def _contrast(stats: InputStats, contrast: np.ndarray, names) -> str | None:
    """Inputs whose pixels mostly span a small part of the training images' range."""
    flags = contrast < LOW_CONTRAST * stats.contrast
    if not _most(flags):
        return None
    return (
        f"{flags.sum()} of {len(flags)} images have low contrast (pixels span "
        f"{np.median(contrast):.0f} levels, training images {stats.contrast:.0f}, e.g. "
        f"{_example(flags, names)}): stretch their contrast before predicting"
    )


def _sizes(stats: InputStats, sizes: Sequence[tuple[int, int] | None], names) -> str | None:
    """Image files of a very different size or shape from the training files."""
    if stats.original_size is None:
        return None
    H0, W0 = stats.original_size
    aspect0 = W0 / H0

    def far(size: tuple[int, int] | None) -> bool:
        if size is None:
            return False
        H, W = size
        scale = max(H / H0, H0 / H, W / W0, W0 / W)
        aspect = (W / H) / aspect0
        return scale >= SIZE_FACTOR or max(aspect, 1 / aspect) >= ASPECT_FACTOR

    flags = np.array([far(size) for size in sizes], dtype=bool)
    if not flags.any():
        return None
    first = int(np.flatnonzero(flags)[0])
    return (
        f"{flags.sum()} of {len(flags)} images were resized to the run's "
        f"{_wxh(stats.image_size)} from a very different size or shape (e.g. {names[first]} "
        f"from {_wxh(sizes[first])}, its shorter side scaled and the rest cropped), but the "
        f"training images were {_wxh(stats.original_size)}: crop each image to its subject, "
        f"at the training images' shape, before predicting"
    )


def input_warnings(
    stats: InputStats,
    images: np.ndarray,
    names: Sequence[str],
    sizes: Sequence[tuple[int, int] | None] = (),
    *,
    inverted: bool = False,
) -> list[str]:
    """One message per way the (N, C, H, W) `images` differ from the training images.

    `images` are as the model receives them (after --invert); `sizes` are the files' original
    (H, W) (empty for arrays, which are never resized); `names` name the images in messages.
    Images of the other polarity have their brightness judged as the remedy would make it.
    """
    measured = measure_images(images)
    polarity = _polarity(stats, measured.border_minus_centre, names, inverted)
    means = measured.mean if polarity is None else 255.0 - measured.mean  # as --invert makes them
    found = [
        polarity,
        _brightness(stats, means, names),
        _contrast(stats, measured.contrast, names),
        _sizes(stats, sizes, names),
    ]
    return [message for message in found if message is not None]
