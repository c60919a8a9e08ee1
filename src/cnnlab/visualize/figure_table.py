"""The figure table: every figure a run can have, name → (caption, how to draw it), in reading order.

The report, the notebook gallery and TensorBoard all read this one table. To add a figure,
add one entry: a function of `FigureInputs` that saves its files into the folder it is given,
or raises `Skip` with the reason it cannot be drawn for this run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cnnlab.config import ExperimentConfig
from cnnlab.data import Split
from cnnlab.errors import CnnlabError
from cnnlab.evaluate import roc_curves
from cnnlab.runs import Predictions
from cnnlab.visualize import curves
from cnnlab.visualize.augmented_batch import batch_preview, describe_batch
from cnnlab.visualize.confusion import plot_confusion
from cnnlab.visualize.feature_maps import render_feature_maps, resolve_images
from cnnlab.visualize.filters import plot_filters
from cnnlab.visualize.gradcam import grad_cam, plot_gradcam
from cnnlab.visualize.layers import conv_layers, gradcam_layer
from cnnlab.visualize.misclassified import plot_misclassified, select_misclassified
from cnnlab.visualize.roc import plot_roc
from cnnlab.visualize.save import save_figure

VECTOR = ("png", "svg")  # line plots and ROC also as SVG, when vector copies are asked for


class Skip(Exception):  # noqa: N818 - a figure skipped is an outcome, not a failure
    """A figure that cannot be drawn for this run; the message says why."""


@dataclass(frozen=True)
class FigureInputs:
    """What a run's figures are drawn from, built once and handed to every entry."""

    epochs: Sequence[dict[str, Any]]  # metrics.csv rows
    iterations: Sequence[dict[str, Any]]  # iterations.csv rows
    class_names: tuple[str, ...] | None = None
    model: nn.Module | None = None  # the evaluated weights, in eval mode
    test: Split | None = None  # the split the predictions are of
    predictions: Predictions | None = None
    metrics: dict | None = None  # evaluate's metrics of those predictions
    scratch_weights: Path | None = None  # a NumPy-engine run's best.npz
    model_name: str = "?"
    train: Split | None = None  # the training split (the augmented-batch preview replays it)
    config: ExperimentConfig | None = None  # the run's config: seed, batch size, augmentation
    vectors: bool = False  # also SVG copies of the line plots and ROC (cnnlab figures)

    @property
    def line_formats(self) -> tuple[str, ...]:
        """The formats of line plots: PNG, and SVG when vector copies are asked for."""
        return VECTOR if self.vectors else ("png",)


def column(rows: Sequence[dict], key: str) -> np.ndarray:
    """One column of CSV rows as float64 (N,), NaN where a cell is empty or missing."""
    return np.array([np.nan if row.get(key) is None else row[key] for row in rows], np.float64)


def epoch_ends(inputs: FigureInputs) -> np.ndarray:
    """The last iteration of each epoch (E,), from iterations.csv (NaN when it has none)."""
    iteration, of_epoch = column(inputs.iterations, "iteration"), column(inputs.iterations, "epoch")
    ends = np.full(len(inputs.epochs), np.nan)
    for i, epoch in enumerate(column(inputs.epochs, "epoch")):
        mine = iteration[of_epoch == epoch]
        if mine.size:
            ends[i] = mine.max()
    return ends


def _need_epochs(inputs: FigureInputs) -> None:
    if not inputs.epochs:
        raise Skip("metrics.csv has no epochs yet")


def _loss(inputs: FigureInputs, out: Path) -> list[Path]:
    _need_epochs(inputs)
    val = column(inputs.epochs, "val_loss")
    if inputs.iterations:
        steps = inputs.iterations
        figure = curves.plot_loss(
            column(steps, "iteration"), column(steps, "loss"), epoch_ends(inputs), val
        )
    else:  # no per-iteration record: one point per epoch
        epoch = column(inputs.epochs, "epoch")
        train = column(inputs.epochs, "train_loss")
        figure = curves.plot_loss(epoch, train, epoch, val, xlabel="epoch")
    return save_figure(figure, out / "loss", inputs.line_formats)


def _train_val(metric: str) -> Callable[[FigureInputs, Path], list[Path]]:
    plot = {"accuracy": curves.plot_accuracy, "f1": curves.plot_f1}[metric]

    def draw(inputs: FigureInputs, out: Path) -> list[Path]:
        _need_epochs(inputs)
        rows = inputs.epochs
        figure = plot(
            column(rows, "epoch"), column(rows, f"train_{metric}"), column(rows, f"val_{metric}")
        )
        return save_figure(figure, out / metric, inputs.line_formats)

    return draw


def _lr(inputs: FigureInputs, out: Path) -> list[Path]:
    _need_epochs(inputs)
    if inputs.iterations:
        steps = inputs.iterations
        figure = curves.plot_lr(column(steps, "iteration"), column(steps, "lr"))
    else:
        rows = inputs.epochs
        figure = curves.plot_lr(column(rows, "epoch"), column(rows, "lr"), xlabel="epoch")
    return save_figure(figure, out / "lr", inputs.line_formats)


def _predictions(inputs: FigureInputs) -> Predictions:
    if inputs.predictions is None or inputs.class_names is None:
        raise Skip("the run has no test predictions (`cnnlab eval RUN` writes them)")
    if not inputs.predictions.has_true_labels:
        raise Skip("the predictions have no true labels")
    return inputs.predictions


def _confusion_matrix(inputs: FigureInputs) -> np.ndarray:
    """evaluate's confusion matrix (counts, rows true), from the metrics it computed."""
    if inputs.metrics is None or "confusion_matrix" not in inputs.metrics:
        raise Skip("the run has no test metrics")
    return np.asarray(inputs.metrics["confusion_matrix"], dtype=np.int64)


def _confusion(normalized: bool) -> Callable[[FigureInputs, Path], list[Path]]:
    name = "confusion_matrix_normalized" if normalized else "confusion_matrix"

    def draw(inputs: FigureInputs, out: Path) -> list[Path]:
        matrix = _confusion_matrix(inputs)
        figure = plot_confusion(matrix, _predictions(inputs).class_names, normalized=normalized)
        return save_figure(figure, out / name)

    return draw


def _roc(inputs: FigureInputs, out: Path) -> list[Path]:
    predictions = _predictions(inputs)
    found = roc_curves(predictions.y_true, predictions.probabilities)
    return save_figure(plot_roc(found, predictions.class_names), out / "roc", inputs.line_formats)


def _model(inputs: FigureInputs) -> nn.Module:
    if inputs.model is None:
        raise Skip("the run has no torch model")
    if not conv_layers(inputs.model):
        raise Skip(f"model {inputs.model_name!r} has no conv layer")
    return inputs.model


def _filters(inputs: FigureInputs, out: Path) -> list[Path]:
    if inputs.model is None and inputs.scratch_weights is not None:
        name, weights = _npz_first_conv(inputs.scratch_weights)
    else:
        name, conv = conv_layers(_model(inputs))[0]
        weights = conv.weight.detach().float().cpu().numpy()  # (F, C, kh, kw)
    return save_figure(plot_filters(weights, layer=name), out / "filters")


def _npz_first_conv(path: Path) -> tuple[str, np.ndarray]:
    """(name, weight (F, C, kh, kw)) of the first conv parameter in a scratch run's .npz."""
    try:
        with np.load(path, allow_pickle=False) as weights:
            names = [n for n in weights.files if n.startswith("params.") and weights[n].ndim == 4]
            if not names:
                raise Skip(f"{path} holds no conv weight (F, C, kh, kw)")
            return names[0].removeprefix("params."), weights[names[0]]
    except (OSError, ValueError) as error:
        raise Skip(f"{path} is unreadable: {error}") from None


def _feature_maps(inputs: FigureInputs, out: Path) -> list[Path]:
    model = _model(inputs)
    if inputs.test is None or inputs.class_names is None:
        raise Skip("the run's data has no test split")
    images, labels, ids = resolve_images(None, inputs.test, model.in_shape, len(inputs.class_names))
    return render_feature_maps(model, inputs.class_names, images, labels, ids, None, out)


def _mistakes(inputs: FigureInputs) -> tuple[np.ndarray, np.ndarray, tuple]:
    """(chosen rows of the predictions, their images, (true, predicted, confidence))."""
    predictions = _predictions(inputs)
    if inputs.test is None:
        raise Skip("the run's test images are not at hand")
    chosen = select_misclassified(predictions.y_true, predictions.predicted, predictions.confidence)
    if chosen.size == 0:
        raise Skip("no test image is misclassified")
    images = inputs.test.images[predictions.positions[chosen]]  # (M, C, H, W) uint8
    columns = (
        predictions.y_true[chosen],
        predictions.predicted[chosen],
        predictions.confidence[chosen],
    )
    return chosen, images, columns


def _misclassified(inputs: FigureInputs, out: Path) -> list[Path]:
    chosen, images, columns = _mistakes(inputs)
    ids = inputs.predictions.positions[chosen].tolist()
    figure = plot_misclassified(images, *columns, inputs.class_names, ids=ids)
    return save_figure(figure, out / "misclassified")


def _gradcam(inputs: FigureInputs, out: Path) -> list[Path]:
    model = _model(inputs)
    chosen, images, columns = _mistakes(inputs)
    name, layer = gradcam_layer(model)
    device = next(model.parameters()).device
    pixels = torch.from_numpy(images).to(device, torch.float32) / 255
    maps = grad_cam(model, pixels, layer, torch.from_numpy(columns[1]))
    ids = inputs.predictions.positions[chosen].tolist()
    figure = plot_gradcam(images, maps, *columns, inputs.class_names, ids=ids, layer=name)
    return save_figure(figure, out / "gradcam")


def _augmented_batch(inputs: FigureInputs, out: Path) -> list[Path]:
    if inputs.config is None or inputs.train is None or inputs.class_names is None:
        raise Skip("the run's config or training images are not at hand")
    parameters = list(inputs.model.parameters()) if inputs.model is not None else []
    device = parameters[0].device if parameters else "cpu"  # the run's augmentation draws
    figure = batch_preview(inputs.config, inputs.train, inputs.class_names, device)
    return save_figure(figure, out / "augmented_batch")


def _batch_detail(config: dict) -> str:
    """The augmentation and mixing of a run, from its config.yaml, for the preview's caption."""
    data = config.get("data")
    return describe_batch(data if isinstance(data, dict) else {})


@dataclass(frozen=True)
class FigureEntry:
    """One figure: its caption, how it is drawn (None: by another command), and where shown."""

    caption: str
    draw: Callable[[FigureInputs, Path], list[Path]] | None
    tensorboard: bool = False  # also logged as an image to TensorBoard
    # runs the torch model or uses its device: drawn by the main process, or by a forked
    # child only when the model is on the CPU (a forked child cannot use CUDA; background)
    uses_model: bool = False
    uses_evaluation: bool = False  # needs the test predictions (drawn once they exist)
    # the run's part of the caption, from its config.yaml (a dict), appended to `caption`
    detail: Callable[[dict], str] | None = None


FIGURES: dict[str, FigureEntry] = {
    "loss": FigureEntry(
        "Loss: training per iteration (with its moving average) and validation per epoch", _loss
    ),
    "accuracy": FigureEntry("Accuracy per epoch, training and validation", _train_val("accuracy")),
    "f1": FigureEntry("Macro F1 per epoch, training and validation", _train_val("f1")),
    "lr": FigureEntry("Learning rate", _lr),
    "lr_find": FigureEntry(
        "Learning-rate range test: smoothed loss against an exponentially rising rate, with "
        "the two suggested rates (steepest descent, minimum / 10) dashed",
        None,  # drawn by the range test (train.lr_find, cnnlab lr-find)
    ),
    "augmented_batch": FigureEntry(
        "The first training batch of epoch 1 as the model sees it (replayed from the seed), "
        "each image titled with its target (a mixed image: both classes and their weights)",
        _augmented_batch,
        uses_model=True,  # replays the augmentation on the model's device
        detail=_batch_detail,
    ),
    "confusion_matrix": FigureEntry(
        "Confusion matrix (counts; rows true, columns predicted)",
        _confusion(False),
        True,
        uses_evaluation=True,
    ),
    "confusion_matrix_normalized": FigureEntry(
        "Confusion matrix, normalised per true class", _confusion(True), uses_evaluation=True
    ),
    "roc": FigureEntry(
        "ROC curves, one-vs-rest per class, with micro and macro averages",
        _roc,
        uses_evaluation=True,
    ),
    "filters": FigureEntry("First-layer filters", _filters, True, uses_model=True),
    "feature_maps": FigureEntry(
        "Feature maps of the first two conv layers", _feature_maps, uses_model=True
    ),
    "misclassified": FigureEntry(
        "Misclassified test images: true and predicted label, confidence",
        _misclassified,
        uses_evaluation=True,
    ),
    "gradcam": FigureEntry(
        "Grad-CAM of misclassified test images", _gradcam, uses_model=True, uses_evaluation=True
    ),
}


def _entry_name(stem: str) -> str:
    """The table entry a file stem belongs to: itself, or feature_maps for feature_maps_2."""
    return stem if stem in FIGURES else stem.rstrip("0123456789").rstrip("_")


def caption(stem: str, config: dict | None = None) -> str:
    """A figure's caption: its table entry's, else its name in words (feature_maps_2 → page 2);
    with the run's `config` (config.yaml as a dict), also the entry's detail of that run."""
    base = _entry_name(stem)
    if base not in FIGURES:
        return stem.replace("_", " ").replace("-", " ").capitalize()
    entry = FIGURES[base]
    text = entry.caption + (f" (page {stem[len(base) + 1 :]})" if base != stem else "")
    if config is not None and entry.detail is not None:
        try:
            text += f"; {entry.detail(config)}"
        except CnnlabError as error:  # an edited config.yaml: the caption says so
            text += f"; its config.yaml is unreadable here: {error}"
    return text


def order(stem: str) -> tuple[int, str]:
    """Sort key of a figure file's stem: the table's order, unknown figures last by name."""
    names, base = list(FIGURES), _entry_name(stem)
    return (names.index(base) if base in FIGURES else len(names), stem)
