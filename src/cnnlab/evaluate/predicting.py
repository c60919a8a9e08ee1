"""What every `predict` shares, whatever runs the model (a run's checkpoint, an ONNX file):
where the images come from, reading them at the model's shape, comparing them with the
training images, and the output formats. Torch-free, so `predict MODEL.onnx` never loads torch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.data.catalog import IMAGEFOLDER_PREFIX
from cnnlab.data.images import IMAGE_EXTENSIONS
from cnnlab.data.input_stats import InputStats
from cnnlab.errors import DataError
from cnnlab.evaluate.input_check import input_warnings
from cnnlab.evaluate.inputs import image_files, images_from_array, images_from_files, invert
from cnnlab.runs.predictions import Predictions, save_leaderboard, save_predictions

# What `predict --format` writes: predictions.csv's columns, or a leaderboard's `id,label`.
FORMATS: dict[str, Callable[[Path, Predictions], Path]] = {
    "predictions": save_predictions,
    "leaderboard": save_leaderboard,
}


class InputMismatchWarning(UserWarning):
    """The images given to `predict` look unlike the run's training images."""


@dataclass(frozen=True)
class Predicted:
    """What one prediction pass gives: the predictions and what the input check found."""

    predictions: Predictions
    accuracy: float | None  # on a dataset's test split; None for images without labels
    warnings: tuple[str, ...]  # how the images differ from the training images, with a remedy
    notes: tuple[str, ...]  # e.g. that a run made before input_stats.json is not checked


def check_format(output_format: str) -> None:
    """Refuse an output format that is not a key of `FORMATS`."""
    if output_format not in FORMATS:
        raise DataError(f"output format {output_format!r}: expected one of {', '.join(FORMATS)}")


def image_path(source: str | Path) -> Path | None:
    """`source` as a path of images, or None when it names a dataset (no such path exists);
    a name that looks like a missing path is refused."""
    if Path(source).exists():
        return Path(source)
    looks_like_path = os.sep in str(source) or Path(source).suffix.lower() in IMAGE_EXTENSIONS
    if looks_like_path and not str(source).startswith(IMAGEFOLDER_PREFIX):
        raise DataError(
            f"images {source}: no such file or folder; expected an image file, a folder of "
            f"images, or a dataset name"
        )
    return None


def read_images(
    images: np.ndarray | Path | str | Sequence[Path | str],
    in_shape: tuple[int, int, int],
    inverted: bool,
) -> tuple[list[int | str], np.ndarray, list[tuple[int, int]]]:
    """(ids, (N, C, H, W) images as the model receives them, the files' original (H, W)).

    An array keeps its dtype and gets ids 0..N-1 (never resized, so no sizes); files are
    decoded to uint8, converted and resized, with their names as ids. `inverted`: 255 - pixel.
    """
    sizes: list[tuple[int, int]] = []
    if isinstance(images, np.ndarray):
        ids: list[int | str] = list(range(images.shape[0]))
        array = images_from_array(images, in_shape)  # (N, C, H, W)
    else:
        files = image_files(images)
        ids = [name for name, _ in files]
        array, sizes = images_from_files([path for _, path in files], in_shape)
    return ids, invert(array) if inverted else array, sizes


def check_inputs(
    stats: InputStats | None,
    images: np.ndarray,
    names: Sequence,
    sizes: Sequence,
    inverted: bool,
    unchecked: str,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(warnings, notes) of comparing `images` with the training images' `stats`; without
    stats, one note: `unchecked` (why there are none), then that the check was skipped."""
    if stats is None:
        return (), (f"{unchecked}: the images are not compared with its training images",)
    found = input_warnings(stats, images, [str(n) for n in names], sizes, inverted=inverted)
    return tuple(found), ()


def unlabelled(ids: Sequence[int | str], probabilities: np.ndarray, class_names) -> Predictions:
    """Predictions of images whose true labels are unknown."""
    unknown = np.full(len(ids), -1, dtype=np.int64)
    return Predictions(tuple(ids), probabilities, tuple(class_names), unknown)
