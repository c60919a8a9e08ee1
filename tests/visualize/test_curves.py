"""Curve figures and the moving average, on synthetic arrays."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from cnnlab.errors import ConfigError
from cnnlab.visualize import moving_average, plot_accuracy, plot_f1, plot_loss, plot_lr
from cnnlab.visualize.curves import default_window


def test_moving_average_is_a_trailing_mean_that_starts_short():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(moving_average(values, 3), [1.0, 1.5, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(moving_average(values, 1), values)
    np.testing.assert_array_equal(moving_average(values, 10), [1.0, 1.5, 2.0, 2.5, 3.0])


def test_moving_average_skips_non_finite_losses():
    values = np.array([2.0, np.nan, 4.0, np.inf, np.nan, np.nan])
    np.testing.assert_array_equal(moving_average(values, 2), [2.0, 2.0, 4.0, 4.0, np.nan, np.nan])


@pytest.mark.parametrize("window", [0, -1, 2.5, True, None])
def test_moving_average_rejects_a_bad_window(window):
    with pytest.raises(ConfigError, match="window must be an integer >= 1"):
        moving_average(np.ones(3), window)


def test_default_window_is_a_tenth_within_bounds():
    assert [default_window(n) for n in (1, 9, 50, 400, 100_000)] == [1, 1, 5, 40, 100]


def test_loss_figure_draws_raw_average_and_validation_on_the_iteration_axis():
    iterations = np.arange(1, 201)
    losses = 2.0 * np.exp(-iterations / 80) + 0.1
    ends = np.array([50, 100, 150, 200])
    figure = plot_loss(iterations, losses, ends, [1.2, None, 0.6, 0.5])
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    labels = [line.get_label() for line in ax.lines]
    assert labels == [
        "train loss (per iteration)",
        "train loss, moving average of 20",
        "validation loss (per epoch)",
    ]
    val = ax.lines[2]
    np.testing.assert_array_equal(val.get_xdata(), [50, 100, 150, 200])
    assert np.isnan(val.get_ydata()[1])
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "iteration"


def test_loss_falling_by_decades_gets_a_log_axis_and_no_average_when_short():
    losses = np.array([2.0, 0.5, 0.05, 0.01, 0.005, 0.004, 0.003])
    figure = plot_loss(np.arange(1, 8), losses)
    ax = figure.axes[0]
    assert ax.get_yscale() == "log"
    assert len(ax.lines) == 1  # window 1: nothing to smooth


def test_accuracy_and_f1_label_the_best_epoch_and_drop_an_empty_validation():
    epochs = np.array([1, 2, 3])
    figure = plot_accuracy(epochs, [0.5, 0.7, 0.9], [0.4, 0.8, 0.75])
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels == ["train (best 0.900 at epoch 3)", "validation (best 0.800 at epoch 2)"]
    figure = plot_f1(epochs, [0.5, 0.6, 0.7], [None, None, None])
    assert [line.get_label() for line in figure.axes[0].lines] == ["train (best 0.700 at epoch 3)"]
    assert figure.axes[0].get_ylabel() == "macro F1"


def test_learning_rate_axis_is_log_for_step_decays_and_linear_for_cosine():
    steps = np.arange(300)
    step = plot_lr(steps, np.repeat([0.1, 0.01, 0.001], 100))
    assert step.axes[0].get_yscale() == "log"
    cosine = plot_lr(steps, 0.05 * (1 + np.cos(np.pi * steps / 300)))
    assert cosine.axes[0].get_yscale() == "linear"


def test_per_epoch_loss_needs_no_epoch_axis_and_a_flat_rate_says_constant():
    epochs = np.array([1.0, 2.0, 3.0])
    figure = plot_loss(epochs, [1.0, 0.8, 0.7], epochs, [1.1, 0.9, 0.95], xlabel="epoch")
    assert figure.axes[0].child_axes == [] and figure.axes[0].get_xlabel() == "epoch"
    assert figure.axes[0].lines[0].get_label() == "train loss (per epoch)"
    with_iterations = plot_loss(np.arange(1, 7), np.ones(6), np.array([2, 4, 6]), [1, 1, 1])
    (top,) = with_iterations.axes[0].child_axes  # the epoch axis on top
    assert [t.get_text() for t in top.get_xticklabels()] == ["1", "2", "3"]
    flat = plot_lr(np.arange(5), np.full(5, 0.001)).axes[0]
    assert flat.get_title() == "Learning rate (constant 0.001)" and flat.get_ylim() == (0, 0.002)


def inside(figure) -> bool:
    """Whether every axes' ticks, labels, title and legend lie within the figure."""
    renderer = figure.canvas.get_renderer()
    W, H = figure.bbox.width, figure.bbox.height
    boxes = [ax.get_tightbbox(renderer) for ax in figure.axes]
    return all(b.x0 >= 0 and b.y0 >= 0 and b.x1 <= W and b.y1 <= H for b in boxes)


def test_curve_figures_fit_their_labels_into_the_figure_without_a_layout_engine():
    iterations = np.arange(1, 4691)
    losses = 2.3 * np.exp(-iterations / 300) + 0.05
    figures = [
        plot_loss(iterations, losses, np.arange(938, 4691, 938), [0.2, 0.1, 0.08, 0.07, 0.06]),
        plot_lr(iterations, 5e-4 * (1 + np.cos(np.pi * iterations / 4690))),
        plot_accuracy(np.arange(1, 6), [0.9, 0.95, 0.97, 0.98, 0.99]),
    ]
    for figure in figures:
        assert figure.get_layout_engine() is None and inside(figure)
        ax = figure.axes[0]
        assert ax.get_position().width > 0.7  # the axes fill what the labels leave
