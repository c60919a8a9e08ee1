"""Evaluate a model: `evaluate_split` (in memory), `test_model` / `evaluate_run` (a run directory).

The test split of a run is scored once, here, on one numeric path (`predict_probabilities`,
fp32, float64 softmax): `cnnlab train` hands its model and data to `evaluate_split`, and
`cnnlab eval RUN` loads them and calls the same function (same flip averaging, same
precision). `record_evaluation` writes the
result: for the run's own test split `metrics.json`, `predictions.csv` and train.log's one
`test accuracy:` line (and README.md's key results); for another split or dataset `metrics-<tag>.json` and
`predictions-<tag>.csv`, leaving the run's own result alone.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from cnnlab.data import Dataset, Split
from cnnlab.data.configured import load_configured, load_files, with_test_split
from cnnlab.data.subset import SubsetSpec, apply_subset
from cnnlab.errors import DataError
from cnnlab.evaluate.inference import predict_probabilities
from cnnlab.evaluate.metrics import compute_metrics
from cnnlab.runs.load import LoadedRun, load_run
from cnnlab.runs.predictions import Predictions
from cnnlab.runs.readme import refresh_readme
from cnnlab.runs.rundir import RunDir, output_tag


@dataclass(frozen=True)
class EvalResult:
    """A model evaluated on one split: metrics.json's dict and the predictions behind it."""

    metrics: dict
    predictions: Predictions
    dataset: str  # the dataset name evaluated on
    split: str

    @property
    def accuracy(self) -> float:
        return float(self.metrics["accuracy"])

    @property
    def probabilities(self) -> np.ndarray:
        return self.predictions.probabilities

    @property
    def ids(self) -> np.ndarray:
        """(N,) positions of the evaluated images in their split."""
        return self.predictions.positions

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.predictions.class_names

    @property
    def y_true(self) -> np.ndarray:
        return self.predictions.y_true

    @property
    def predicted(self) -> np.ndarray:
        return self.predictions.predicted


def evaluate_split(
    model: nn.Module,
    split: Split,
    class_names: tuple[str, ...],
    *,
    dataset: str,
    split_name: str = "test",
    tta_flip: bool = False,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
    precision: str = "fp32",
) -> EvalResult:
    """Metrics and per-image probabilities of `model` on `split` (its images in order), with
    the run's flip averaging and precision (`train.precision`)."""
    probabilities = predict_probabilities(
        model,
        split.images,
        tta_flip=tta_flip,
        batch_size=batch_size,
        device=device,
        precision=precision,
    )  # (N, K)
    return evaluation(probabilities, split.labels, class_names, dataset, split_name)


def evaluation(
    probabilities: np.ndarray,
    labels: np.ndarray,
    class_names: tuple[str, ...],
    dataset: str,
    split_name: str = "test",
) -> EvalResult:
    """The metrics of class probabilities (N, K) for a split's images in order (labels (N,)).

    The NumPy engine, which has no torch model, hands its probabilities in here.
    """
    metrics = {
        "dataset": dataset,
        **compute_metrics(labels, probabilities, class_names, split_name),
    }
    ids = tuple(range(len(labels)))
    predictions = Predictions(ids, probabilities, tuple(class_names), labels.astype(np.int64))
    return EvalResult(metrics, predictions, dataset, split_name)


def record_evaluation(run: RunDir, result: EvalResult, tag: str | None = None) -> None:
    """Write the result into the run (see the module docstring for which files)."""
    run.write_test_metrics(result.metrics, tag)
    run.write_predictions(result.predictions, tag)
    if tag is None:
        run.log_test_accuracy(result.accuracy)
        refresh_readme(run)  # its key results


def _other_dataset(loaded: LoadedRun, name: str, whole: bool = False) -> Dataset:
    """Dataset `name` restricted to the run's classes (by name), decoded at the run's shape."""
    C, H, W = loaded.in_shape
    where = dataclasses.replace(loaded.config.data, dataset=name, channels=C, image_size=(H, W))
    dataset = with_test_split(load_files(where), loaded.config.train.seed)
    missing = [c for c in loaded.class_names if c not in dataset.class_names]
    if missing:
        raise DataError(
            f"dataset {name!r} has classes {list(dataset.class_names)}, but run {loaded.path} "
            f"was trained on {list(loaded.class_names)}; missing from {name!r}: {missing}"
        )
    if tuple(dataset.class_names) != tuple(loaded.class_names):
        if whole:
            raise DataError(
                f"a leaderboard file needs every test image of {name!r} labelled with its "
                f"classes {list(dataset.class_names)}, but run {loaded.path} predicts "
                f"{list(loaded.class_names)}"
            )
        dataset = apply_subset(dataset, SubsetSpec(classes=tuple(loaded.class_names)))
    return dataset


def run_data(loaded: LoadedRun) -> Dataset:
    """The run's own dataset as it was configured, checked against its checkpoint's classes."""
    data = load_configured(loaded.config.data, loaded.config.train.seed)
    if tuple(data.class_names) != tuple(loaded.class_names):
        raise DataError(
            f"run {loaded.path}: its data now has classes {list(data.class_names)} but the "
            f"checkpoint was trained on {list(loaded.class_names)}"
        )
    return data


def require_all_classes(loaded: LoadedRun) -> None:
    """Refuse a leaderboard file from a run trained on some classes of its own dataset: its
    test split lacks the others and its class indices are renumbered."""
    classes = loaded.config.data.classes
    if classes is not None:
        raise DataError(
            f"a leaderboard file needs every test image of {loaded.config.data.dataset!r} with "
            f"its own class indices, but run {loaded.path} was trained on a class subset "
            f"(data.classes {list(classes)}): its test split holds only those, renumbered"
        )


def evaluation_split(
    loaded: LoadedRun, dataset: str | None, split: str, *, whole: bool = False
) -> tuple[str, Split]:
    """(dataset name, split) to evaluate on, checked against the run's classes and shape.

    `whole`: refuse unless the split is all of the dataset's split in its files' order, with
    the dataset's own class indices (what a leaderboard file's rows are).
    """
    own = dataset is None or dataset == loaded.config.data.dataset
    name = loaded.config.data.dataset if own else dataset
    if whole and own:
        require_all_classes(loaded)
    data = run_data(loaded) if own else _other_dataset(loaded, dataset, whole)
    return name, pick_split(loaded, name, data, split)


def pick_split(loaded: LoadedRun, name: str, data: Dataset, split: str) -> Split:
    """`data`'s split `split`, refused with the reason when the run cannot be evaluated on it."""
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
    return chosen


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
    name, chosen = evaluation_split(loaded, dataset, split)
    return evaluate_loaded(loaded, chosen, name, split, device=device, batch_size=batch_size)


def evaluate_loaded(
    loaded: LoadedRun,
    split: Split,
    dataset: str,
    split_name: str = "test",
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
) -> EvalResult:
    """`evaluate_split` of a loaded run's model, with the run's classes, flip averaging and
    precision: the numbers `cnnlab train` recorded, on the same machine."""
    return evaluate_split(
        loaded.model,
        split,
        loaded.class_names,
        dataset=dataset,
        split_name=split_name,
        tta_flip=loaded.config.model.tta_flip,
        device=device,
        batch_size=batch_size,
        precision=loaded.config.train.precision,
    )


test_model.__test__ = False  # not a pytest test, despite its name


def evaluate_run(
    run_dir: Path,
    dataset: str | None = None,
    split: str = "test",
    *,
    device: str | torch.device = "cpu",
    batch_size: int | None = None,
) -> dict:
    """Evaluate the run's best checkpoint and write metrics and predictions into the run."""
    run = RunDir(Path(run_dir))
    result = test_model(run.path, dataset, split, device=device, batch_size=batch_size)
    own_dataset = run.read_config().data.dataset
    record_evaluation(run, result, output_tag(dataset, split, own_dataset))
    return result.metrics
