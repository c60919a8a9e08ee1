"""Reading evaluate's predictions.csv and metrics.json, and the curve columns, for figures."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from cnnlab.errors import DataFormatError
from cnnlab.visualize import sources

NAMES = ["cat, tabby", "dog", "a b"]


def write_predictions(path, rows, names=NAMES):
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "label", "true_label", *(f"prob_{n}" for n in names)])
        writer.writerows(rows)
    return path


def test_predictions_csv_is_read_back_with_quoted_class_names(tmp_path):
    path = write_predictions(
        tmp_path / "predictions.csv",
        [
            [0, "dog", "cat, tabby", "0.200000", "0.700000", "0.100000"],
            [1, "a b", "a b", "0.000000", "0.000001", "0.999999"],
        ],
    )
    predictions = sources.read_predictions(path, NAMES)
    np.testing.assert_array_equal(predictions.ids, [0, 1])
    np.testing.assert_array_equal(predictions.labels, [0, 2])
    np.testing.assert_array_equal(predictions.predicted, [1, 2])
    np.testing.assert_array_equal(
        predictions.probabilities, [[0.2, 0.7, 0.1], [0.0, 0.000001, 0.999999]]
    )
    np.testing.assert_array_equal(predictions.confidence, [0.7, 0.999999])


def test_predictions_csv_for_other_classes_or_without_split_ids_is_refused(tmp_path):
    path = write_predictions(tmp_path / "p.csv", [], names=["cat", "dog"])
    with pytest.raises(DataFormatError, match=r"columns are for classes \['cat', 'dog'\]"):
        sources.read_predictions(path, NAMES)
    path = write_predictions(tmp_path / "q.csv", [["img.png", "dog", "", "0.1", "0.8", "0.1"]])
    with pytest.raises(
        DataFormatError, match="integer ids into the test split and every true_label"
    ):
        sources.read_predictions(path, NAMES)
    path = write_predictions(tmp_path / "r.csv", [[0, "horse", "dog", "0.1", "0.8", "0.1"]])
    with pytest.raises(DataFormatError, match="label 'horse' is not one of the classes"):
        sources.read_predictions(path, NAMES)  # evaluate's reader names the line and column


def test_confusion_matrix_from_metrics_json_is_checked(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"confusion_matrix": [[3, 1], [0, 2]]}))
    matrix = sources.confusion_from_metrics(sources.read_metrics(path), 2, path)
    np.testing.assert_array_equal(matrix, [[3, 1], [0, 2]])
    with pytest.raises(DataFormatError, match="must be a 3x3 list of integer counts"):
        sources.confusion_from_metrics({"confusion_matrix": [[3, 1], [0, 2]]}, 3, path)
    path.write_text("{not json")
    with pytest.raises(DataFormatError, match="is not valid JSON"):
        sources.read_metrics(path)


def test_confusion_matrix_counts_pairs_rows_true_columns_predicted():
    matrix = sources.confusion_matrix(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 0, 2]), 4)
    np.testing.assert_array_equal(matrix, [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    assert matrix.sum() == 5


def test_columns_and_epoch_ends_from_csv_rows():
    rows = [
        {"iteration": 1.0, "epoch": 1.0},
        {"iteration": 2.0, "epoch": 1.0},
        {"iteration": 3.0, "epoch": 2.0, "val_loss": None},
    ]
    iteration, epoch = sources.column(rows, "iteration"), sources.column(rows, "epoch")
    np.testing.assert_array_equal(iteration, [1.0, 2.0, 3.0])
    assert np.isnan(sources.column(rows, "val_loss")).all()
    np.testing.assert_array_equal(
        sources.epoch_ends(iteration, epoch, np.array([1.0, 2.0, 3.0])), [2.0, 3.0, np.nan]
    )
