"""Reading what a run directory holds for its figures: curve columns, predictions, confusion.

Only reading here; `predictions.csv` and `metrics.json` are written by `cnnlab.evaluate`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix as sklearn_confusion

from cnnlab.errors import DataFormatError

PREDICTIONS_FILE = "predictions.csv"
METRICS_FILE = "metrics.json"
PROBABILITY_PREFIX = "prob_"


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
    """Parse evaluate's `predictions.csv` (id,label,true_label,prob_<class>...) against `class_names`."""
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.reader(stream)
        header = next(reader, None)
        rows = list(reader)
    expected = [PROBABILITY_PREFIX + name for name in class_names]
    if header is None or header[:3] != ["id", "label", "true_label"] or header[3:] != expected:
        raise DataFormatError(
            f"{path}: expected the header id,label,true_label,{','.join(expected)}; got "
            f"{','.join(header or [])}"
        )
    index = {name: k for k, name in enumerate(class_names)}
    try:
        ids = np.array([int(row[0]) for row in rows], dtype=np.int64)
        predicted = np.array([index[row[1]] for row in rows], dtype=np.int64)
        labels = np.array([index[row[2]] for row in rows], dtype=np.int64)
        probabilities = np.array([[float(v) for v in row[3:]] for row in rows], dtype=np.float64)
    except (ValueError, KeyError, IndexError) as error:
        raise DataFormatError(
            f"{path}: rows must hold an integer id, known class names and {len(class_names)} "
            f"probabilities ({type(error).__name__}: {error})"
        ) from None
    if probabilities.shape != (len(rows), len(class_names)):
        raise DataFormatError(f"{path}: every row needs {len(class_names)} probabilities")
    return Predictions(split, ids, labels, predicted, probabilities)


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
