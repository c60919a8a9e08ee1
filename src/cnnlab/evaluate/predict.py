"""Predict with a run's best checkpoint: arrays, image files or a folder, or a dataset's test split."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cnnlab.data.catalog import IMAGEFOLDER_PREFIX
from cnnlab.data.images import IMAGE_EXTENSIONS
from cnnlab.errors import DataError
from cnnlab.evaluate.api import test_model
from cnnlab.evaluate.inference import predict_probabilities
from cnnlab.evaluate.inputs import image_files, images_from_array, images_from_files
from cnnlab.runs.load import load_run
from cnnlab.runs.predictions import Predictions, save_predictions


def _predict(
    run_dir: Path, images, device: str | torch.device, batch_size: int | None
) -> Predictions:
    """Predictions of the run's best checkpoint for `images` (true labels unknown)."""
    loaded = load_run(Path(run_dir), "best", device=device)
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().numpy()
    if isinstance(images, np.ndarray):
        ids: list[int | str] = list(range(images.shape[0]))
        array = images_from_array(images, loaded.in_shape)  # (N, C, H, W)
    else:
        files = image_files(images)
        ids = [name for name, _ in files]
        array = images_from_files([path for _, path in files], loaded.in_shape)  # (N, C, H, W)
    probabilities = predict_probabilities(
        loaded.model,
        array,
        tta_flip=loaded.config.model.tta_flip,
        batch_size=batch_size,
        device=device,
        precision=loaded.config.train.precision,
    )  # (N, K)
    unknown = np.full(len(ids), -1, dtype=np.int64)
    return Predictions(tuple(ids), probabilities, tuple(loaded.class_names), unknown)


def predict(
    run_dir: Path,
    images: np.ndarray | torch.Tensor | Path | str | Sequence[Path | str],
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
) -> list[tuple[int | str, str, np.ndarray]]:
    """(id, predicted class name, probabilities (K,)) per image, from the run's best checkpoint.

    `images`: an array (N, C, H, W) / (N, H, W, C) / (N, H, W), uint8 or float in [0, 1], with
    ids 0..N-1; or image files (a path, a list of paths, or a folder) with ids their names.
    """
    p = _predict(run_dir, images, device, batch_size)
    names = p.class_names
    return [(p.ids[i], names[int(k)], p.probabilities[i]) for i, k in enumerate(p.predicted)]


def predict_to_csv(
    run_dir: Path,
    source: str | Path,
    out: Path,
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
) -> tuple[int, float | None]:
    """Write predictions for image files at `source`, or a dataset's test split; (count, accuracy).

    `source` is read as a dataset name when no such path exists; accuracy is None for files.
    """
    if Path(source).exists():
        predictions = _predict(run_dir, Path(source), device, batch_size)
        save_predictions(Path(out), predictions)
        return len(predictions.ids), None
    looks_like_path = os.sep in str(source) or Path(source).suffix.lower() in IMAGE_EXTENSIONS
    if looks_like_path and not str(source).startswith(IMAGEFOLDER_PREFIX):
        raise DataError(
            f"images {source}: no such file or folder; expected an image file, a folder of "
            f"images, or a dataset name"
        )
    result = test_model(run_dir, str(source), "test", device=device, batch_size=batch_size)
    save_predictions(Path(out), result.predictions)
    return len(result.predictions.ids), result.accuracy
