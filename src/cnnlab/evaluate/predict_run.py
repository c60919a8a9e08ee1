"""Predict with a run's best checkpoint: arrays, image files or a folder, or a dataset's test split.

The images are first compared with the run's training images (`input_stats.json`); how they
differ comes back as warnings with a remedy (`--invert` for the other polarity).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cnnlab.data import Split
from cnnlab.evaluate.api import evaluate_loaded, evaluation_split
from cnnlab.evaluate.inference import predict_probabilities
from cnnlab.evaluate.inputs import invert
from cnnlab.evaluate.predicting import (
    FORMATS,
    InputMismatchWarning,
    Predicted,
    check_format,
    check_inputs,
    image_path,
    read_images,
    unlabelled,
)
from cnnlab.runs import RunDir
from cnnlab.runs.load import LoadedRun, load_run


def _check(
    loaded: LoadedRun, images: np.ndarray, names: Sequence, sizes: Sequence, inverted: bool
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(warnings, notes) of the input check; a run without input_stats.json skips it."""
    unchecked = f"run {loaded.path} has no input_stats.json (made before cnnlab saved one)"
    stats = RunDir(loaded.path).read_input_stats()
    return check_inputs(stats, images, names, sizes, inverted, unchecked)


def _predict_images(
    loaded: LoadedRun, images, device: str | torch.device, batch_size: int | None, inverted: bool
) -> Predicted:
    """Predictions of the run's best checkpoint for `images` (true labels unknown)."""
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    ids, array, sizes = read_images(images, loaded.in_shape, inverted)  # (N, C, H, W)
    found, notes = _check(loaded, array, ids, sizes, inverted)
    probabilities = predict_probabilities(
        loaded.model,
        array,
        tta_flip=loaded.config.model.tta_flip,
        batch_size=batch_size,
        device=device,
        precision=loaded.config.train.precision,
    )  # (N, K)
    predictions = unlabelled(ids, probabilities, loaded.class_names)
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
    check_format(output_format)
    path = image_path(source)
    loaded = load_run(Path(run_dir), "best", device=device)
    if path is not None:
        done = _predict_images(loaded, path, device, batch_size, invert)
    else:
        whole = output_format == "leaderboard"
        done = _predict_dataset(loaded, str(source), device, batch_size, invert, whole)
    FORMATS[output_format](Path(out), done.predictions)
    return done
