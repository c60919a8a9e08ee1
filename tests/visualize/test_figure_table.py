"""The figure table: its order and captions (read by report, gallery and TensorBoard), and the
inputs its entries draw from."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from cnnlab.errors import DataFormatError
from cnnlab.runs.predictions import read_predictions
from cnnlab.visualize.figure_table import (
    FIGURES,
    FigureInputs,
    Skip,
    caption,
    column,
    epoch_ends,
    order,
)

NAMES = ["cat, tabby", "dog", "a b"]


def test_order_and_captions_come_from_the_one_table():
    stems = ["gradcam", "zzz_custom", "feature_maps_2", "loss", "feature_maps", "roc"]
    assert sorted(stems, key=order) == [
        "loss", "roc", "feature_maps", "feature_maps_2", "gradcam", "zzz_custom"
    ]  # fmt: skip
    assert caption("roc") == FIGURES["roc"].caption
    assert caption("feature_maps_2").endswith("(page 2)")
    assert caption("my_extra-plot") == "My extra plot"
    assert [name for name, entry in FIGURES.items() if entry.tensorboard] == [
        "confusion_matrix",
        "filters",
    ]


def test_columns_and_epoch_ends_from_csv_rows():
    iterations = [
        {"iteration": 1.0, "epoch": 1.0},
        {"iteration": 2.0, "epoch": 1.0},
        {"iteration": 3.0, "epoch": 2.0, "val_loss": None},
    ]
    epochs = [{"epoch": 1.0}, {"epoch": 2.0}, {"epoch": 3.0}]
    np.testing.assert_array_equal(column(iterations, "iteration"), [1.0, 2.0, 3.0])
    assert np.isnan(column(iterations, "val_loss")).all()
    ends = epoch_ends(FigureInputs(epochs=epochs, iterations=iterations))
    np.testing.assert_array_equal(ends, [2.0, 3.0, np.nan])


def test_an_entry_without_what_it_needs_is_skipped_with_the_reason(tmp_path):
    empty = FigureInputs(epochs=[], iterations=[])
    with pytest.raises(Skip, match="no epochs"):
        FIGURES["loss"].draw(empty, tmp_path)
    with pytest.raises(Skip, match="no test predictions"):
        FIGURES["roc"].draw(empty, tmp_path)
    with pytest.raises(Skip, match="no torch model"):
        FIGURES["gradcam"].draw(FigureInputs(epochs=[], iterations=[], model=None), tmp_path)
    assert FIGURES["lr_find"].draw is None  # drawn by the range test


def test_predictions_with_quoted_class_names_give_confidence_and_positions(tmp_path):
    path = tmp_path / "predictions.csv"
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "label", "true_label", *(f"prob_{n}" for n in NAMES)])
        writer.writerow([0, "dog", "cat, tabby", "0.200000", "0.700000", "0.100000"])
        writer.writerow([1, "a b", "a b", "0.000000", "0.000001", "0.999999"])
    predictions = read_predictions(path)
    np.testing.assert_array_equal(predictions.positions, [0, 1])
    np.testing.assert_array_equal(predictions.y_true, [0, 2])
    np.testing.assert_array_equal(predictions.predicted, [1, 2])
    np.testing.assert_array_equal(predictions.confidence, [0.7, 0.999999])
    with open(path, "a", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerow(["img.png", "dog", "", "0.1", "0.8", "0.1"])
    with pytest.raises(DataFormatError, match="of files, not of a split"):
        _ = read_predictions(path).positions
