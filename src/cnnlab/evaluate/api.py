"""Evaluate a run: `test_model` (metrics, probabilities), `evaluate_run` (writes them), `predict`.

`evaluate_run` on the run's own test split writes `metrics.json` and `predictions.csv` and
appends `test accuracy: 0.XXXX` to train.log. Another split or dataset writes
`metrics-<tag>.json` / `predictions-<tag>.csv` instead and leaves train.log alone, so the
run's own test result is never overwritten and the log still ends with the test accuracy line.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cnnlab.atomic import write_text
from cnnlab.data import Dataset, Split, load_dataset
from cnnlab.data.catalog import IMAGEFOLDER_PREFIX
from cnnlab.data.images import IMAGE_EXTENSIONS
from cnnlab.data.subset import SubsetSpec, apply_subset
from cnnlab.errors import DataError
from cnnlab.evaluate.inference import predict_probabilities
from cnnlab.evaluate.inputs import image_files, images_from_array, images_from_files
from cnnlab.evaluate.metrics import compute_metrics
from cnnlab.evaluate.predictions import write_predictions
from cnnlab.runs import LoadedRun, RunDir, load_run
from cnnlab.runs.experiment import load_experiment_data


@dataclass(frozen=True)
class EvalResult:
    """A run evaluated on one split: metrics.json's dict and the arrays behind it."""

    metrics: dict
    probabilities: np.ndarray  # (N, K) float64
    y_true: np.ndarray  # (N,) int64
    ids: np.ndarray  # (N,) positions in the evaluated split
    class_names: tuple[str, ...]
    dataset: str  # the dataset name evaluated on
    split: str

    @property
    def predicted(self) -> np.ndarray:
        """(N,) predicted class indices."""
        return self.probabilities.argmax(axis=1)


def _other_dataset(loaded: LoadedRun, name: str) -> Dataset:
    """Dataset `name` restricted to the run's classes (by name), decoded at the run's shape."""
    data = loaded.config.data
    C, H, W = loaded.in_shape
    dataset = load_dataset(
        name,
        data_dir=Path(data.data_dir) if data.data_dir else None,
        offline=data.offline,
        channels=C,
        image_size=(H, W),
        skip_bad=data.skip_bad,
        seed=loaded.config.train.seed,
    )
    missing = [c for c in loaded.class_names if c not in dataset.class_names]
    if missing:
        raise DataError(
            f"dataset {name!r} has classes {list(dataset.class_names)}, but run {loaded.path} "
            f"was trained on {list(loaded.class_names)}; missing from {name!r}: {missing}"
        )
    if tuple(dataset.class_names) != tuple(loaded.class_names):
        dataset = apply_subset(dataset, SubsetSpec(classes=tuple(loaded.class_names)))
    return dataset


def _evaluation_split(loaded: LoadedRun, dataset: str | None, split: str) -> tuple[str, Split]:
    """(dataset name, split) to evaluate on, checked against the run's classes and shape."""
    if _is_own(loaded, dataset):
        name, data = loaded.config.data.dataset, load_experiment_data(loaded.config)
        if tuple(data.class_names) != tuple(loaded.class_names):
            raise DataError(
                f"run {loaded.path}: its data now has classes {list(data.class_names)} but the "
                f"checkpoint was trained on {list(loaded.class_names)}"
            )
    else:
        name, data = dataset, _other_dataset(loaded, dataset)
    if split not in data.splits:
        raise DataError(
            f"dataset {name!r} (as configured in run {loaded.path}) has no {split!r} split; "
            f"it has {list(data.splits)}"
        )
    chosen = data.splits[split]
    if len(chosen) == 0:
        raise DataError(f"dataset {name!r}: the {split!r} split has no image of the run's classes")
    if chosen.image_shape != tuple(loaded.in_shape):
        raise DataError(
            f"dataset {name!r} has images of shape {chosen.image_shape} (C, H, W), but run "
            f"{loaded.path} takes {tuple(loaded.in_shape)}"
        )
    return name, chosen


def _is_own(loaded: LoadedRun, dataset: str | None) -> bool:
    return dataset is None or dataset == loaded.config.data.dataset


def test_model(
    run_dir: Path,
    dataset: str | None = None,
    split: str = "test",
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
) -> EvalResult:
    """Metrics and probabilities of the run's best checkpoint on its test split (or `dataset`'s)."""
    loaded = load_run(Path(run_dir), "best", device=device)
    name, chosen = _evaluation_split(loaded, dataset, split)
    probabilities = predict_probabilities(
        loaded.model, chosen.images, batch_size=batch_size, device=device
    )  # (N, K)
    metrics = {
        "dataset": name,
        **compute_metrics(chosen.labels, probabilities, loaded.class_names, split),
    }
    return EvalResult(
        metrics=metrics,
        probabilities=probabilities,
        y_true=chosen.labels,
        ids=np.arange(len(chosen)),
        class_names=tuple(loaded.class_names),
        dataset=name,
        split=split,
    )


test_model.__test__ = False  # not a pytest test, despite its name


def output_names(run_dir: Path, dataset: str | None = None, split: str = "test") -> tuple[str, str]:
    """(metrics file, predictions file) names `evaluate_run` writes for this dataset and split."""
    configured = RunDir(Path(run_dir)).read_config().get("data", {}).get("dataset")
    own = dataset is None or dataset == configured
    if own and split == "test":
        return "metrics.json", "predictions.csv"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", str(dataset)).strip("_")
    tag = split if own else f"{slug}-{split}"
    return f"metrics-{tag}.json", f"predictions-{tag}.csv"


def _json_safe(value):
    """NaN and infinities become None (JSON has no NaN), recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def evaluate_run(
    run_dir: Path,
    dataset: str | None = None,
    split: str = "test",
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
) -> dict:
    """Evaluate the run's best checkpoint and write metrics and predictions into the run."""
    run_dir = Path(run_dir)
    result = test_model(run_dir, dataset, split, device=device, batch_size=batch_size)
    metrics_name, predictions_name = output_names(run_dir, dataset, split)
    write_text(run_dir / metrics_name, json.dumps(_json_safe(result.metrics), indent=2) + "\n")
    write_predictions(
        run_dir / predictions_name,
        result.ids.tolist(),
        result.probabilities,
        result.class_names,
        result.y_true,
    )
    if metrics_name == "metrics.json":
        RunDir(run_dir).log_result(f"test accuracy: {result.metrics['accuracy']:.4f}")
    return result.metrics


def _predict(
    run_dir: Path, images, device: str | torch.device, batch_size: int | None
) -> tuple[list[int | str], np.ndarray, tuple[str, ...]]:
    """(ids, probabilities (N, K), class names) of the run's best checkpoint for `images`."""
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
        loaded.model, array, batch_size=batch_size, device=device
    )  # (N, K)
    return ids, probabilities, tuple(loaded.class_names)


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
    ids, probabilities, names = _predict(run_dir, images, device, batch_size)
    return [(ids[i], names[int(p.argmax())], p) for i, p in enumerate(probabilities)]


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
        ids, probabilities, names = _predict(run_dir, Path(source), device, batch_size)
        write_predictions(Path(out), ids, probabilities, names)
        return len(ids), None
    looks_like_path = os.sep in str(source) or Path(source).suffix.lower() in IMAGE_EXTENSIONS
    if looks_like_path and not str(source).startswith(IMAGEFOLDER_PREFIX):
        raise DataError(
            f"images {source}: no such file or folder; expected an image file, a folder of "
            f"images, or a dataset name"
        )
    result = test_model(run_dir, str(source), "test", device=device, batch_size=batch_size)
    write_predictions(
        Path(out), result.ids.tolist(), result.probabilities, result.class_names, result.y_true
    )
    return len(result.ids), result.metrics["accuracy"]
