"""Reading what a run directory holds for its figures: curve columns, predictions, confusion.

Only reading here; `predictions.csv` and `metrics.json` are written by `cnnlab.evaluate`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix as sklearn_confusion

from cnnlab import evaluate
from cnnlab.errors import DataFormatError

PREDICTIONS_FILE = "predictions.csv"
METRICS_FILE = "metrics.json"


def column(rows: Sequence[dict], key: str) -> np.ndarray:
    """One column of CSV rows as float64 (N,), NaN where a cell is empty or missing."""
    return np.array(
        [np.nan if row.get(key) is None else row[key] for row in rows], dtype=np.float64
    )


def epoch_ends(
    iterations: np.ndarray, epochs_of_iterations: np.ndarray, epochs: np.ndarray
) -> np.ndarray:
    """The last iteration of each epoch in `epochs` (E,), from iterations.csv's columns (T,)."""
    ends = np.full(epochs.shape, np.nan)
    for i, epoch in enumerate(epochs):
        mine = iterations[epochs_of_iterations == epoch]
        if mine.size:
            ends[i] = mine.max()
    return ends


@dataclass(frozen=True)
class Predictions:
    """Per-image predictions on one split: ids index that split's images."""

    split: str
    ids: np.ndarray  # (N,) int64 indices into the split
    labels: np.ndarray  # (N,) int64 true classes
    predicted: np.ndarray  # (N,) int64
    probabilities: np.ndarray  # (N, K) float64

    @property
    def confidence(self) -> np.ndarray:
        """The probability given to the predicted class: (N,)."""
        return self.probabilities[np.arange(len(self.ids)), self.predicted]


def read_predictions(path: Path, class_names: Sequence[str], split: str = "test") -> Predictions:
    """evaluate's `predictions.csv` for a split, checked against the run's `class_names`."""
    table = evaluate.read_predictions(path)  # raises naming the file, line and column
    if tuple(table.class_names) != tuple(class_names):
        raise DataFormatError(
            f"{path}: probability columns are for classes {list(table.class_names)}, but the run "
            f"has {list(class_names)}"
        )
    if not all(isinstance(i, int) for i in table.ids) or not table.has_true_labels:
        raise DataFormatError(
            f"{path}: figures need integer ids into the {split} split and every true_label"
        )
    ids = np.array(table.ids, dtype=np.int64)
    return Predictions(split, ids, table.y_true, table.predicted, table.probabilities)


def read_metrics(path: Path) -> dict:
    """evaluate's `metrics.json` as a dict (a clear error when it is not JSON)."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataFormatError(f"{path} is not valid JSON: {error}") from None


def confusion_from_metrics(metrics: dict, num_classes: int, path: Path) -> np.ndarray:
    """The (K, K) `confusion_matrix` of metrics.json, checked for shape and integer counts."""
    matrix = np.asarray(metrics.get("confusion_matrix", []))
    if matrix.shape != (num_classes, num_classes) or not np.issubdtype(matrix.dtype, np.integer):
        raise DataFormatError(
            f"{path}: confusion_matrix must be a {num_classes}x{num_classes} list of integer "
            f"counts, got shape {matrix.shape}"
        )
    return matrix.astype(np.int64)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts (K, K) of (true, predicted) pairs: rows true, columns predicted."""
    return sklearn_confusion(labels, predicted, labels=np.arange(num_classes)).astype(np.int64)
