"""predictions.csv: `id,label`, `true_label`, then `prob_<class>` columns; and the leaderboard
form, exactly `id,label` with `label` the predicted class *index*.

`id` is the 0-based index in the evaluated split, or the file name when predicting on files;
in predictions.csv `label` and `true_label` are class names (`true_label` empty when unknown);
probabilities are written with 6 decimals. The csv module quotes class names holding commas,
quotes or newlines.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnlab.atomic import write_text
from cnnlab.errors import DataFormatError

FIXED_COLUMNS = ("id", "label", "true_label")
LEADERBOARD_COLUMNS = ("id", "label")
PROB_PREFIX = "prob_"
DECIMALS = 6


@dataclass(frozen=True)
class Predictions:
    """Per-image class probabilities on one split (or on files); `y_true` -1 where unknown."""

    ids: tuple[int | str, ...]  # positions in the evaluated split, or file names
    probabilities: np.ndarray  # (N, K) float64
    class_names: tuple[str, ...]
    y_true: np.ndarray  # (N,) int64, -1 = unknown

    @property
    def predicted(self) -> np.ndarray:
        """(N,) int64 class indices: the highest probability."""
        return self.probabilities.argmax(axis=1) if len(self.ids) else np.zeros(0, np.int64)

    @property
    def confidence(self) -> np.ndarray:
        """(N,) the probability given to the predicted class."""
        return self.probabilities[np.arange(len(self.ids)), self.predicted]

    @property
    def has_true_labels(self) -> bool:
        return bool(len(self.y_true)) and bool(np.all(self.y_true >= 0))

    @property
    def positions(self) -> np.ndarray:
        """(N,) int64 ids as positions into the split; raises when an id is a file name."""
        if not all(isinstance(i, int) for i in self.ids):
            raise DataFormatError("these predictions are of files, not of a split's images")
        return np.array(self.ids, dtype=np.int64)


def predictions_text(
    ids: Sequence[int | str],
    probabilities: np.ndarray,
    class_names: Sequence[str],
    y_true: np.ndarray | None = None,
) -> str:
    """The CSV text of predictions: one row per image, predicted label = highest probability."""
    probabilities = np.asarray(probabilities, dtype=np.float64)  # (N, K)
    N, K = probabilities.shape if probabilities.ndim == 2 else (-1, -1)
    if K != len(class_names) or len(ids) != N:
        raise DataFormatError(
            f"predictions need probabilities of shape ({len(ids)}, {len(class_names)}) for "
            f"{len(ids)} ids and {len(class_names)} classes, got {probabilities.shape}"
        )
    if y_true is not None and np.shape(y_true) != (N,):
        raise DataFormatError(f"y_true must have shape ({N},), got {np.shape(y_true)}")
    predicted = probabilities.argmax(axis=1) if N else np.zeros(0, dtype=np.int64)  # (N,)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FIXED_COLUMNS, *(PROB_PREFIX + str(name) for name in class_names)])
    for i in range(N):
        true = "" if y_true is None or y_true[i] < 0 else class_names[int(y_true[i])]
        probs = [f"{p:.{DECIMALS}f}" for p in probabilities[i]]
        writer.writerow([ids[i], class_names[predicted[i]], true, *probs])
    return buffer.getvalue()


def write_predictions(
    path: Path,
    ids: Sequence[int | str],
    probabilities: np.ndarray,
    class_names: Sequence[str],
    y_true: np.ndarray | None = None,
) -> Path:
    """Write predictions.csv atomically (see the module docstring for the columns)."""
    return write_text(Path(path), predictions_text(ids, probabilities, class_names, y_true))


def save_predictions(path: Path, predictions: Predictions) -> Path:
    """Write `predictions` as predictions.csv (true labels only where known)."""
    p = predictions
    y_true = p.y_true if len(p.y_true) == len(p.ids) else None
    return write_predictions(path, p.ids, p.probabilities, p.class_names, y_true)


def leaderboard_text(predictions: Predictions) -> str:
    """`id,label` rows in the order of `predictions.ids`, `label` the predicted class index."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LEADERBOARD_COLUMNS)
    writer.writerows(zip(predictions.ids, predictions.predicted.tolist(), strict=True))
    return buffer.getvalue()


def save_leaderboard(path: Path, predictions: Predictions) -> Path:
    """Write `predictions` as a leaderboard submission (`id,label`, class indices) atomically."""
    return write_text(Path(path), leaderboard_text(predictions))


def _parse_id(text: str) -> int | str:
    return int(text) if text.isdigit() and text.isascii() else text


def read_predictions(path: Path) -> Predictions:
    """predictions.csv back as arrays; a malformed file raises naming it, the row and the column."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError(f"predictions file {path} does not exist")
    try:
        with open(path, newline="", encoding="utf-8") as stream:
            rows = list(csv.reader(stream))
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataFormatError(f"{path}: damaged, not a CSV of predictions: {error}") from None
    if not rows or tuple(rows[0][:3]) != FIXED_COLUMNS:
        raise DataFormatError(f"{path}: expected a header starting with {','.join(FIXED_COLUMNS)}")
    header = rows[0]
    bad = [name for name in header[3:] if not name.startswith(PROB_PREFIX)]
    if bad:
        raise DataFormatError(
            f"{path}: columns after true_label must start with {PROB_PREFIX!r}, got {bad}"
        )
    class_names = tuple(name[len(PROB_PREFIX) :] for name in header[3:])
    index = {name: k for k, name in enumerate(class_names)}
    ids, y_true, probabilities = [], [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataFormatError(f"{path}, line {line}: {len(row)} fields, expected {len(header)}")
        for column, name in ((1, row[1]), (2, row[2])):
            if name not in index and not (column == 2 and name == ""):
                raise DataFormatError(
                    f"{path}, line {line}: {FIXED_COLUMNS[column]} {name!r} is not one of the "
                    f"classes {list(class_names)}"
                )
        try:
            probabilities.append([float(value) for value in row[3:]])
        except ValueError:
            raise DataFormatError(f"{path}, line {line}: a probability is not a number") from None
        ids.append(_parse_id(row[0]))
        y_true.append(index[row[2]] if row[2] != "" else -1)
    return Predictions(
        ids=tuple(ids),
        probabilities=np.array(probabilities, dtype=np.float64).reshape(len(ids), len(class_names)),
        class_names=class_names,
        y_true=np.array(y_true, dtype=np.int64),
    )
