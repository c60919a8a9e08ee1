"""Every figure a run directory can give, written into `<run>/figures/`.

Curves come from metrics.csv and iterations.csv; the confusion matrix, ROC and mistakes from
evaluate's predictions.csv / metrics.json (or, before evaluate has run, from the model on the
test split); filters, feature maps and Grad-CAM from the best checkpoint. A figure that cannot
be made is skipped with a logged reason.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from cnnlab.data.arrays import Dataset, Split
from cnnlab.errors import CnnlabError
from cnnlab.evaluate import predict_probabilities, roc_curves
from cnnlab.runs import LoadedRun, RunDir, load_run
from cnnlab.runs.experiment import load_experiment_data
from cnnlab.runs.rundir import read_csv_rows
from cnnlab.visualize import sources
from cnnlab.visualize.confusion import plot_confusion
from cnnlab.visualize.curves import plot_accuracy, plot_f1, plot_loss, plot_lr
from cnnlab.visualize.feature_maps import render_feature_maps, resolve_images
from cnnlab.visualize.filters import plot_filters
from cnnlab.visualize.gradcam import grad_cam, plot_gradcam
from cnnlab.visualize.layers import conv_layers, gradcam_layer
from cnnlab.visualize.misclassified import plot_misclassified, select_misclassified
from cnnlab.visualize.roc import plot_roc
from cnnlab.visualize.save import save_figure

log = logging.getLogger(__name__)
VECTOR = ("png", "svg")  # line plots and ROC also as SVG


def _skip(figure: str, reason: object) -> list[Path]:
    """Log why `figure` is not made; no files."""
    log.info("figure %s skipped: %s", figure, reason)
    return []


def curve_figures(run: RunDir, out: Path) -> list[Path]:
    """loss, accuracy, f1 and lr from metrics.csv and iterations.csv."""
    if not run.metrics_path.is_file():
        return _skip("loss/accuracy/f1/lr", f"{run.metrics_path} is missing")
    epochs = read_csv_rows(run.metrics_path)
    if not epochs:
        return _skip("loss/accuracy/f1/lr", f"{run.metrics_path} has no epochs yet")
    steps = read_csv_rows(run.iterations_path) if run.iterations_path.is_file() else []
    epoch = sources.column(epochs, "epoch")
    written = []
    if steps:
        iteration = sources.column(steps, "iteration")
        ends = sources.epoch_ends(iteration, sources.column(steps, "epoch"), epoch)
        loss = plot_loss(
            iteration, sources.column(steps, "loss"), ends, sources.column(epochs, "val_loss")
        )
        written += save_figure(loss, out / "loss", VECTOR)
        written += save_figure(plot_lr(iteration, sources.column(steps, "lr")), out / "lr", VECTOR)
    else:  # no per-iteration record: one point per epoch
        loss = plot_loss(
            epoch,
            sources.column(epochs, "train_loss"),
            epoch,
            sources.column(epochs, "val_loss"),
            xlabel="epoch",
        )
        written += save_figure(loss, out / "loss", VECTOR)
        lr = plot_lr(epoch, sources.column(epochs, "lr"), xlabel="epoch")
        written += save_figure(lr, out / "lr", VECTOR)
    for name, plot in (("accuracy", plot_accuracy), ("f1", plot_f1)):
        figure = plot(
            epoch, sources.column(epochs, f"train_{name}"), sources.column(epochs, f"val_{name}")
        )
        written += save_figure(figure, out / name, VECTOR)
    return written


def run_predictions(
    run: RunDir, loaded: LoadedRun | None, split: Split | None, class_names: Sequence[str]
) -> sources.Predictions | None:
    """evaluate's predictions.csv when it fits the test split, else the model's own on it."""
    path = run.path / sources.PREDICTIONS_FILE
    if path.is_file():
        try:
            predictions = sources.read_predictions(path, class_names)
            if split is not None and (
                len(predictions.ids) != len(split)
                or not np.array_equal(split.labels[predictions.ids], predictions.labels)
            ):
                raise CnnlabError(f"{path} does not match the {len(split)}-image test split")
            return predictions
        except (CnnlabError, IndexError) as error:
            log.info("not using %s: %s", path, error)
    if loaded is None or split is None:
        return None
    device = next(loaded.model.parameters()).device
    probabilities = predict_probabilities(loaded.model, split.images, device=device)  # (N, K)
    ids = np.arange(len(split))
    return sources.Predictions(
        "test", ids, split.labels, probabilities.argmax(axis=1), probabilities
    )


def prediction_figures(
    run: RunDir, predictions: sources.Predictions, class_names: Sequence[str], out: Path
) -> list[Path]:
    """Both confusion matrices (metrics.json's counts when present) and the ROC curves."""
    K = len(class_names)
    matrix = sources.confusion_matrix(predictions.labels, predictions.predicted, K)
    metrics_path = run.path / sources.METRICS_FILE
    if metrics_path.is_file():
        try:
            matrix = sources.confusion_from_metrics(
                sources.read_metrics(metrics_path), K, metrics_path
            )
        except CnnlabError as error:
            log.info("confusion matrix from predictions, not %s: %s", metrics_path, error)
    written = save_figure(plot_confusion(matrix, class_names), out / "confusion_matrix")
    written += save_figure(
        plot_confusion(matrix, class_names, normalized=True), out / "confusion_matrix_normalized"
    )
    curves = roc_curves(predictions.labels, predictions.probabilities)
    written += save_figure(plot_roc(curves, class_names), out / "roc", VECTOR)
    return written


def mistake_figures(
    loaded: LoadedRun | None,
    predictions: sources.Predictions,
    split: Split,
    class_names: Sequence[str],
    out: Path,
) -> list[Path]:
    """The most confident mistakes, and Grad-CAM on the last conv layer for them."""
    chosen = select_misclassified(predictions.labels, predictions.predicted, predictions.confidence)
    if chosen.size == 0:
        return _skip("misclassified/gradcam", "no test image is misclassified")
    ids = predictions.ids[chosen]
    images = split.images[ids]  # (M, C, H, W) uint8
    columns = (
        predictions.labels[chosen],
        predictions.predicted[chosen],
        predictions.confidence[chosen],
    )
    written = save_figure(
        plot_misclassified(images, *columns, class_names, ids=ids.tolist()), out / "misclassified"
    )
    if loaded is None:
        return written + _skip("gradcam", "the model could not be loaded")
    if not conv_layers(loaded.model):
        return written + _skip("gradcam", f"model {loaded.config.model.name!r} has no conv layer")
    name, layer = gradcam_layer(loaded.model)
    device = next(loaded.model.parameters()).device
    inputs = torch.from_numpy(images).to(device, torch.float32) / 255
    maps = grad_cam(loaded.model, inputs, layer, torch.from_numpy(predictions.predicted[chosen]))
    figure = plot_gradcam(images, maps, *columns, class_names, ids=ids.tolist(), layer=name)
    return written + save_figure(figure, out / "gradcam")


def filter_figure(loaded: LoadedRun, out: Path) -> list[Path]:
    """The first conv layer's filters."""
    convs = conv_layers(loaded.model)
    if not convs:
        return _skip("filters", f"model {loaded.config.model.name!r} has no conv layer")
    name, conv = convs[0]
    weights = conv.weight.detach().float().cpu().numpy()  # (F, C, kh, kw)
    return save_figure(plot_filters(weights, layer=name), out / "filters")


def npz_filter_figure(path: Path, out: Path) -> list[Path]:
    """The first conv layer's filters of a scratch run: the first 4-D parameter in its .npz."""
    try:
        with np.load(path, allow_pickle=False) as weights:
            names = [n for n in weights.files if n.startswith("params.") and weights[n].ndim == 4]
            if not names:
                return _skip("filters", f"{path} holds no conv weight (F, C, kh, kw)")
            weight = weights[names[0]]  # (F, C, kh, kw)
    except (OSError, ValueError) as error:
        return _skip("filters", f"{path} is unreadable: {error}")
    return save_figure(
        plot_filters(weight, layer=names[0].removeprefix("params.")), out / "filters"
    )


def _load(run: RunDir) -> tuple[LoadedRun | None, Dataset | None]:
    """The run's model and data, each None (with a logged reason) when it cannot be read."""
    loaded = dataset = None
    try:
        loaded = load_run(run.path)
    except CnnlabError as error:
        log.info("model figures skipped: %s", error)
    try:
        config = loaded.config if loaded else None
        if config is None:
            from cnnlab.config import build_config

            config = build_config(run.read_config(), str(run.config_path))
        dataset = load_experiment_data(config)
    except CnnlabError as error:
        log.info("figures from test images skipped: %s", error)
    return loaded, dataset


def write_figures(run_dir: Path) -> list[Path]:
    """Write every figure `run_dir` allows into its `figures/` folder; returns the files written."""
    run = RunDir(Path(run_dir))
    run.read_config()  # a clear error when this is not a run directory
    out = run.figures
    written = curve_figures(run, out)
    loaded, dataset = _load(run)
    class_names = loaded.class_names if loaded else (dataset.class_names if dataset else None)
    split = dataset.splits.get("test") if dataset else None
    if class_names is None:
        return written + _skip("prediction figures", "neither the model nor the data could be read")
    predictions = run_predictions(run, loaded, split, class_names)
    if predictions is None:
        _skip(
            "confusion/roc/misclassified/gradcam",
            "no predictions.csv and no model with a test split",
        )
    else:
        written += prediction_figures(run, predictions, class_names, out)
        if split is not None:
            written += mistake_figures(loaded, predictions, split, class_names, out)
    if loaded is not None:
        written += filter_figure(loaded, out)
        if not conv_layers(loaded.model):
            _skip("feature_maps", f"model {loaded.config.model.name!r} has no conv layer")
        elif split is None:
            _skip("feature_maps", "the run's data has no test split")
        else:
            images, labels, ids = resolve_images(None, split, loaded.in_shape, len(class_names))
            written += render_feature_maps(
                loaded.model, class_names, images, labels, ids, None, out
            )
    elif run.best_npz.is_file():  # a scratch (NumPy engine) run: weights, but no torch model
        written += npz_filter_figure(run.best_npz, out)
        _skip("feature_maps", f"{run.path} is a scratch run: feature maps need a torch model")
    return written


def feature_visualization(
    run_dir: Path,
    images: Sequence[int] | np.ndarray | None = None,
    layers: Sequence[str] | None = None,
) -> list[Path]:
    """Feature maps of `layers` (default: the first two conv layers) for `images` of a run.

    `images`: indices into the test split, or an array (N, C, H, W) / (C, H, W) of uint8 or
    [0, 1] floats shaped like the model's input; default one test image per class. Layer
    names are those of `named_modules()` (e.g. "net.conv"). Writes figures/feature_maps.png
    (and feature_maps_2.png... beyond 10 images); returns the files written.
    """
    loaded = load_run(Path(run_dir))
    split = None
    if images is None or not isinstance(images, np.ndarray) or images.ndim <= 1:
        split = load_experiment_data(loaded.config).split("test")
    pixels, labels, ids = resolve_images(images, split, loaded.in_shape, len(loaded.class_names))
    return render_feature_maps(
        loaded.model, loaded.class_names, pixels, labels, ids, layers, loaded.run.figures
    )
