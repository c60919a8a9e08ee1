"""Confusion matrix and ROC figures, and the ROC curves themselves, on hand-built predictions."""

from __future__ import annotations

import numpy as np
import pytest

from cnnlab.errors import DataFormatError
from cnnlab.evaluate import roc_curves
from cnnlab.visualize import normalize_rows, plot_confusion, plot_roc
from cnnlab.visualize.confusion import cell_labels
from cnnlab.visualize.mosaic import PixelImage


def test_normalize_rows_gives_recall_rows_and_leaves_empty_rows_zero():
    matrix = np.array([[3, 1, 0], [0, 0, 0], [2, 2, 4]])
    np.testing.assert_array_equal(
        normalize_rows(matrix), [[0.75, 0.25, 0.0], [0.0, 0.0, 0.0], [0.25, 0.25, 0.5]]
    )


def cells_in(figure) -> np.ndarray:
    """The pixels (H, W, 4) that draw the matrix's cells."""
    (cells,) = [a for a in figure.axes[0].get_children() if isinstance(a, PixelImage)]
    return cells.pixels


def test_small_confusion_matrix_writes_every_cell_and_class_name():
    matrix = np.array([[5, 1], [0, 4]])
    assert cell_labels(matrix.astype(float), 5.0, normalized=False) == [
        ("5", "white"),
        ("1", "black"),
        ("0", "0.65"),  # zeros fade
        ("4", "white"),
    ]
    assert [text for text, _ in cell_labels(normalize_rows(matrix), 1.0, normalized=True)] == [
        "0.83",
        "0.17",
        "0",
        "1.00",
    ]
    figure = plot_confusion(matrix, ["cat", "dog"])
    ax = figure.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert "10 images, 2 classes" in ax.get_title()
    pixels = cells_in(figure)
    side = pixels.shape[0] // 2
    assert pixels.shape[:2] == (2 * side, 2 * side)  # whole pixels per cell
    assert round(ax.get_window_extent().width) == 2 * side  # filling the axes exactly
    dark, light = pixels[:side, :side, :3], pixels[:side, side:, :3]  # "5" and "1"
    assert dark.max() == 255 and light.min() < 60  # white and black numbers stamped in


def test_hundred_class_confusion_matrix_builds_without_cell_numbers():
    rng = np.random.default_rng(0)
    matrix = rng.integers(0, 5, (100, 100)) + np.diag(np.full(100, 40))
    names = [f"class {k}" for k in range(100)]
    figure = plot_confusion(matrix, names, normalized=True)
    ax = figure.axes[0]
    pixels = cells_in(figure)
    cell = pixels.shape[0] // 100
    assert pixels.shape[:2] == (100 * cell, 100 * cell)
    assert len(np.unique(pixels[:cell, :cell].reshape(-1, 4), axis=0)) == 1  # no number, no line
    labels = ax.get_yticklabels()
    assert [t.get_text() for t in labels] == names
    assert 4.0 <= labels[0].get_fontsize() < 9.0  # shrunk, still legible
    assert max(figure.get_size_inches()) <= 16


def test_confusion_matrix_must_match_the_class_names():
    with pytest.raises(DataFormatError, match=r"must be \(3, 3\) for 3 class names"):
        plot_confusion(np.zeros((2, 2)), ["a", "b", "c"])


def test_a_class_absent_from_the_labels_is_named_instead_of_drawn():
    y = np.array([0, 0, 1, 1])
    probabilities = np.array([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    curves = roc_curves(y, probabilities)
    figure = plot_roc(curves, ["a", "b", "c"])
    ax = figure.axes[0]
    assert "no curve (absent from the test set): c" in ax.get_title()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["a (AUC 1.000)", "b (AUC 1.000)"]
    assert labels[-2] == "macro-average (AUC n/a)"  # evaluate: undefined with a class missing


def test_roc_figure_labels_each_class_and_average_with_its_auc():
    y = np.array([0, 1, 2, 0, 1, 2, 0, 1])
    probabilities = np.full((8, 3), 0.2) + 0.6 * np.eye(3)[np.array([0, 1, 2, 1, 1, 2, 0, 0])]
    curves = roc_curves(y, probabilities)
    figure = plot_roc(curves, ["zero", "one", "two"])
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert labels[0] == f"zero (AUC {curves[0][2]:.3f})"
    assert labels[3:] == [
        f"micro-average (AUC {curves['micro'][2]:.3f})",
        f"macro-average (AUC {curves['macro'][2]:.3f})",
        "chance",
    ]


def test_many_classes_show_averages_and_the_best_and_worst_three():
    rng = np.random.default_rng(2)
    K = 30
    y = np.repeat(np.arange(K), 6)
    strength = np.linspace(0, 4, K)[y]  # later classes are easier
    logits = rng.normal(size=(y.size, K)) + strength[:, None] * np.eye(K)[y]
    curves = roc_curves(y, logits)
    names = [f"c{k}" for k in range(K)]
    figure = plot_roc(curves, names)
    ax = figure.axes[0]
    assert "averages, the 3 best and 3 worst of 30 classes" in ax.get_title()
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert len(labels) == 6 + 2 + 1
    ranked = sorted(range(K), key=lambda k: -curves[k][2])
    assert labels[0].startswith(f"best: c{ranked[0]} ")
    assert labels[5].startswith(f"worst: c{ranked[-1]} ")


def test_roc_figure_accepts_curves_keyed_by_class_name():
    y = np.array([0, 1, 0, 1])
    curves = roc_curves(y, np.array([[0.9, 0.1], [0.4, 0.6], [0.6, 0.4], [0.2, 0.8]]))
    by_name = {"neg": curves[0], "pos": curves[1], "micro": curves["micro"]}
    labels = [
        t.get_text() for t in plot_roc(by_name, ["neg", "pos"]).axes[0].get_legend().get_texts()
    ]
    assert labels[:3] == ["neg (AUC 1.000)", "pos (AUC 1.000)", "micro-average (AUC 1.000)"]
    only_neg = plot_roc({0: curves[0]}, ["neg", "pos"]).axes[0]
    assert "no curve (absent from the test set): pos" in only_neg.get_title()


def test_long_class_names_and_an_outside_legend_still_fit_the_figure():
    names = [f"a long class name {k}" for k in range(12)]
    matrix = np.diag(np.full(12, 30)) + 1
    y = np.repeat(np.arange(12), 5)
    probabilities = np.eye(12)[y] * 0.5 + 0.5 / 12
    for figure in (plot_confusion(matrix, names), plot_roc(roc_curves(y, probabilities), names)):
        renderer = figure.canvas.get_renderer()
        W, H = figure.bbox.width, figure.bbox.height
        for ax in figure.axes:
            box = ax.get_tightbbox(renderer)
            assert box.x0 >= 0 and box.y0 >= 0 and box.x1 <= W and box.y1 <= H
        main = figure.axes[0].get_window_extent(renderer)
        assert abs(main.width - main.height) < 2  # square cells, an equal-aspect ROC
