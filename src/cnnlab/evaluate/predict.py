"""Predict with a run's best checkpoint: arrays, image files or a folder, or a dataset's test split.

The images are first compared with the run's training images (`input_stats.json`); how they
differ comes back as warnings with a remedy (`--invert` for the other polarity).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnlab.data import Split
from cnnlab.data.catalog import IMAGEFOLDER_PREFIX
from cnnlab.data.images import IMAGE_EXTENSIONS
from cnnlab.errors import DataError
from cnnlab.evaluate.api import evaluate_loaded, evaluation_split
from cnnlab.evaluate.inference import predict_probabilities
from cnnlab.evaluate.input_check import input_warnings
from cnnlab.evaluate.inputs import image_files, images_from_array, images_from_files, invert
from cnnlab.runs import RunDir
from cnnlab.runs.load import LoadedRun, load_run
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


def _check(
    loaded: LoadedRun, images: np.ndarray, names: Sequence, sizes: Sequence, inverted: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(warnings, notes) of the input check; a run without input_stats.json skips it."""
    stats = RunDir(loaded.path).read_input_stats()
    if stats is None:
        note = (
            f"run {loaded.path} has no input_stats.json (made before cnnlab saved one): "
            f"the images are not compared with its training images"
        )
        return (), (note,)
    found = input_warnings(stats, images, [str(n) for n in names], sizes, inverted=inverted)
    return tuple(found), ()


def _predict_images(
    loaded: LoadedRun, images, device: str | torch.device, batch_size: int | None, inverted: bool
) -> Predicted:
    """Predictions of the run's best checkpoint for `images` (true labels unknown)."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    sizes: list = []  # the files' original (H, W); arrays are never resized
    if isinstance(images, np.ndarray):
        ids: list[int | str] = list(range(images.shape[0]))
        array = images_from_array(images, loaded.in_shape)  # (N, C, H, W)
    else:
        files = image_files(images)
        ids = [name for name, _ in files]
        array, sizes = images_from_files([path for _, path in files], loaded.in_shape)
    if inverted:
        array = invert(array)
    found, notes = _check(loaded, array, ids, sizes, inverted)
    probabilities = predict_probabilities(
        loaded.model,
        array,
        tta_flip=loaded.config.model.tta_flip,
        batch_size=batch_size,
        device=device,
        precision=loaded.config.train.precision,
    )  # (N, K)
    unknown = np.full(len(ids), -1, dtype=np.int64)
    predictions = Predictions(tuple(ids), probabilities, tuple(loaded.class_names), unknown)
    return Predicted(predictions, None, found, notes)


def _predict_dataset(
    loaded: LoadedRun, name: str, device, batch_size: int | None, inverted: bool, whole: bool
) -> Predicted:
    """Predictions and accuracy on dataset `name`'s test split, in its order."""
    name, split = evaluation_split(loaded, name, "test", whole=whole)
    if inverted:
        split = Split(invert(split.images), split.labels)
    ids = range(len(split))
    found, notes = _check(loaded, split.images, ids, [], inverted)
    result = evaluate_loaded(loaded, split, name, device=device, batch_size=batch_size)
    return Predicted(result.predictions, result.accuracy, found, notes)


def predict(
    run_dir: Path,
    images: np.ndarray | torch.Tensor | Path | str | Sequence[Path | str],
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
    invert: bool = False,
) -> list[tuple[int | str, str, np.ndarray]]:
    """(id, predicted class name, probabilities (K,)) per image, from the run's best checkpoint.

    `images`: an array (N, C, H, W) / (N, H, W, C) / (N, H, W), uint8 or float in [0, 1], with
    ids 0..N-1; or image files (a path, a list of paths, or a folder) with ids their names.
    `invert` feeds 255 - pixel (dark-on-light images to a light-on-dark run). Images unlike
    the training images raise an `InputMismatchWarning` saying how.
    """
    loaded = load_run(Path(run_dir), "best", device=device)
    done = _predict_images(loaded, images, device, batch_size, invert)
    for message in done.warnings:
        warnings.warn(message, InputMismatchWarning, stacklevel=2)
    p = done.predictions
    names = p.class_names
    return [(p.ids[i], names[int(k)], p.probabilities[i]) for i, k in enumerate(p.predicted)]


def predict_to_csv(
    run_dir: Path,
    source: str | Path,
    out: Path,
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
    invert: bool = False,
    output_format: str = "predictions",
) -> Predicted:
    """Write predictions for image files at `source`, or a dataset's test split, to `out`.

    `source` is read as a dataset name when no such path exists. `output_format` is a key of
    `FORMATS`: "leaderboard" writes `id,label` with class indices, for a dataset in its test
    split's order (refused when the run predicts only some of its classes), for a folder in
    sorted file order.
    """
    if output_format not in FORMATS:
        raise DataError(f"output format {output_format!r}: expected one of {', '.join(FORMATS)}")
    is_path = Path(source).exists()
    looks_like_path = os.sep in str(source) or Path(source).suffix.lower() in IMAGE_EXTENSIONS
    if not is_path and looks_like_path and not str(source).startswith(IMAGEFOLDER_PREFIX):
        raise DataError(
            f"images {source}: no such file or folder; expected an image file, a folder of "
            f"images, or a dataset name"
        )
    loaded = load_run(Path(run_dir), "best", device=device)
    if is_path:
        done = _predict_images(loaded, Path(source), device, batch_size, invert)
    else:
        whole = output_format == "leaderboard"
        done = _predict_dataset(loaded, str(source), device, batch_size, invert, whole)
    FORMATS[output_format](Path(out), done.predictions)
    return done
