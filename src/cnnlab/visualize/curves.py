"""Training curves: loss per iteration with its moving average, accuracy, F1 and learning rate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from cnnlab.errors import ConfigError
from cnnlab.visualize.panels import fit_axes, new_figure

TRAIN_COLOR, VAL_COLOR, AVERAGE_COLOR = "tab:blue", "tab:orange", "tab:blue"
MAX_MARKED_POINTS = 40  # draw point markers only when a line has at most this many points
# A log axis when the peak is this many times the median (a loss falling by decades, step
# decays of the learning rate); a short warm-up or a cosine tail near 0 keeps a linear one.
LOSS_LOG_RATIO = 10.0
LR_LOG_RATIO = 5.0
CURVE_SIZE = (6.4, 4.0)  # inches


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean of the last `window` finite values at each step: (N,) -> (N,) float64.

    The first steps average what there is so far; non-finite values (a diverged loss) are
    left out, and a step with no finite value in its window is NaN.
    """
    if not isinstance(window, int | np.integer) or isinstance(window, bool) or window < 1:
        raise ConfigError(f"moving_average window must be an integer >= 1, got {window!r}")
    values = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(values)
    sums = np.concatenate([[0.0], np.cumsum(np.where(finite, values, 0.0))])  # (N+1,)
    counts = np.concatenate([[0], np.cumsum(finite)])  # (N+1,)
    end = np.arange(1, values.size + 1)
    start = np.maximum(0, end - window)
    n = counts[end] - counts[start]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (sums[end] - sums[start]) / np.maximum(n, 1), np.nan)


def default_window(count: int) -> int:
    """A smoothing window for `count` iterations: about 10% of them, between 1 and 100."""
    return int(min(100, max(1, count // 10)))


def _finite(values: Sequence[float | None]) -> np.ndarray:
    """`values` as float64 with None turned into NaN."""
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _use_log_scale(ax: Axes, ratio: float, *series: np.ndarray) -> None:
    """Switch `ax` to a log y axis when its peak is over `ratio` times its median (all positive)."""
    values = np.concatenate([s[np.isfinite(s)] for s in series]) if series else np.array([])
    if values.size and values.min() > 0 and values.max() / np.median(values) > ratio:
        ax.set_yscale("log")


def _epoch_axis(ax: Axes, epoch_ends: np.ndarray) -> None:
    """A top axis labelling the last iteration of each epoch with its epoch number."""
    epochs = np.arange(1, epoch_ends.size + 1)
    last = int(epochs[-1])
    ticks = [
        int(t) for t in MaxNLocator(nbins=10, integer=True).tick_values(1, last) if 1 <= t <= last
    ]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1
    if not ticks or last - ticks[-1] > step / 2:  # label the final epoch unless it would crowd
        ticks.append(last)
    chosen = [t - 1 for t in ticks if np.isfinite(epoch_ends[t - 1])]
    top = ax.secondary_xaxis("top")
    top.set_xticks(epoch_ends[chosen], labels=[str(epochs[i]) for i in chosen])
    top.set_xlabel("epoch")


def plot_loss(
    iterations: np.ndarray,
    losses: np.ndarray,
    epoch_ends: np.ndarray | None = None,
    val_losses: Sequence[float | None] | None = None,
    *,
    window: int | None = None,
    xlabel: str = "iteration",
) -> Figure:
    """Training loss per iteration, its moving average, and validation loss per epoch.

    `iterations`, `losses`: (T,); `epoch_ends`: (E,) the last iteration of each epoch, where
    `val_losses` (E,) (None where not measured) are drawn on the same iteration axis (an
    epoch axis on top labels them). With `xlabel="epoch"` the x values are epochs already.
    """
    iterations = np.asarray(iterations, dtype=np.float64)
    losses = _finite(losses)
    window = default_window(losses.size) if window is None else window
    figure = new_figure(*CURVE_SIZE)
    ax = figure.add_subplot()
    smooth = window > 1 and losses.size > window
    ax.plot(
        iterations,
        losses,
        color=TRAIN_COLOR,
        alpha=0.35 if smooth else 1.0,
        linewidth=1,
        marker="o" if losses.size <= MAX_MARKED_POINTS else None,
        markersize=3,
        label=f"train loss (per {xlabel})",
    )
    series = [losses]
    if smooth:
        average = moving_average(losses, window)
        ax.plot(
            iterations,
            average,
            color=AVERAGE_COLOR,
            linewidth=2,
            label=f"train loss, moving average of {window}",
        )
    if epoch_ends is not None and val_losses is not None:
        val = _finite(val_losses)
        ends = np.asarray(epoch_ends, dtype=np.float64)
        if np.isfinite(val).any():
            ax.plot(
                ends,
                val,
                color=VAL_COLOR,
                linewidth=2,
                marker="o",
                markersize=4,
                label="validation loss (per epoch)",
            )
            series.append(val)
    if epoch_ends is not None and len(epoch_ends) > 1 and xlabel != "epoch":
        _epoch_axis(ax, np.asarray(epoch_ends, dtype=np.float64))
    _use_log_scale(ax, LOSS_LOG_RATIO, *series)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("Loss")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    fit_axes(ax)
    return figure


def _best(values: np.ndarray, higher_is_better: bool) -> tuple[int, float] | None:
    """(index, value) of the best finite entry, or None when there is none."""
    if not np.isfinite(values).any():
        return None
    masked = np.where(np.isfinite(values), values, -np.inf if higher_is_better else np.inf)
    index = int(np.argmax(masked) if higher_is_better else np.argmin(masked))
    return index, float(values[index])


def plot_train_val(
    epochs: np.ndarray,
    train: Sequence[float | None],
    val: Sequence[float | None] | None,
    *,
    metric: str,
    title: str,
) -> Figure:
    """A per-epoch metric for the training and validation splits: (E,) each, None = missing."""
    epochs = np.asarray(epochs, dtype=np.float64)
    marker = "o" if epochs.size <= MAX_MARKED_POINTS else None
    figure = new_figure(*CURVE_SIZE)
    ax = figure.add_subplot()
    for name, values, color in (("train", train, TRAIN_COLOR), ("validation", val, VAL_COLOR)):
        if values is None:
            continue
        values = _finite(values)
        best = _best(values, higher_is_better=True)
        if best is None:
            continue
        index, value = best
        label = f"{name} (best {value:.3f} at epoch {int(epochs[index])})"
        ax.plot(epochs, values, color=color, linewidth=2, marker=marker, markersize=4, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    if ax.lines:
        ax.legend(loc="best", fontsize="small")
    fit_axes(ax)
    return figure


def plot_accuracy(
    epochs: np.ndarray, train: Sequence[float | None], val: Sequence[float | None] | None = None
) -> Figure:
    """Train and validation accuracy per epoch."""
    return plot_train_val(epochs, train, val, metric="accuracy", title="Accuracy")


def plot_f1(
    epochs: np.ndarray, train: Sequence[float | None], val: Sequence[float | None] | None = None
) -> Figure:
    """Train and validation macro F1 per epoch."""
    return plot_train_val(epochs, train, val, metric="macro F1", title="Macro F1")


def plot_lr(iterations: np.ndarray, lr: np.ndarray, *, xlabel: str = "iteration") -> Figure:
    """The learning rate at each iteration: (T,) each; a log axis when it spans decades."""
    iterations = np.asarray(iterations, dtype=np.float64)
    lr = _finite(lr)
    figure = new_figure(*CURVE_SIZE)
    ax = figure.add_subplot()
    ax.plot(
        iterations,
        lr,
        color="tab:green",
        linewidth=2,
        marker="o" if lr.size <= MAX_MARKED_POINTS else None,
        markersize=3,
    )
    _use_log_scale(ax, LR_LOG_RATIO, lr)
    if ax.get_yscale() == "linear":
        ax.ticklabel_format(axis="y", useOffset=False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("learning rate")
    ax.set_title("Learning rate")
    finite = lr[np.isfinite(lr)]
    if finite.size and finite.min() == finite.max() and finite[0] > 0:  # flat: say so, from 0
        ax.set_ylim(0, 2 * finite[0])
        ax.set_title(f"Learning rate (constant {finite[0]:.3g})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    fit_axes(ax)
    return figure
