"""Every figure of a run, written into `<run>/figures/` from inputs built once.

`cnnlab train` hands `write_figures` the model, data and predictions it already holds;
`cnnlab figures RUN` lets it build the same `FigureInputs` from the run directory.
A figure that cannot be drawn is skipped with a logged reason.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from cnnlab.data import Split
from cnnlab.errors import CnnlabError
from cnnlab.evaluate import EvalResult, run_data
from cnnlab.runs import LoadedRun, RunDir, load_run
from cnnlab.visualize.feature_maps import render_feature_maps, resolve_images
from cnnlab.visualize.figure_table import FIGURES, FigureInputs, Skip

log = logging.getLogger(__name__)


def write_figures(
    run_dir: Path,
    inputs: FigureInputs | None = None,
    *,
    vectors: bool = True,
    names: Collection[str] | None = None,
) -> list[Path]:
    """Draw every figure of the table (or those in `names`) that `inputs` allow into
    `<run>/figures/`; the files written. Without `inputs` they are read from the run
    directory (`inputs_from_run`), and the line plots and ROC get SVG copies too (unless
    `vectors=False`)."""
    run = RunDir(Path(run_dir))
    inputs = inputs if inputs is not None else inputs_from_run(run.path, vectors=vectors)
    written: list[Path] = []
    for name, entry in FIGURES.items():
        if entry.draw is None or (names is not None and name not in names):
            continue
        try:
            written += entry.draw(inputs, run.figures)
        except Skip as reason:
            log.info("figure %s skipped: %s", name, reason)
    return written


def inputs_from_run(
    run_dir: Path,
    device: str = "cpu",
    *,
    loaded: LoadedRun | None = None,
    test: Split | None = None,
    evaluated: EvalResult | None = None,
    vectors: bool = False,
) -> FigureInputs:
    """A run's figure inputs read back: its curves, model, test split and saved predictions.

    `loaded`, `test` and `evaluated` are used instead of loading them when the caller holds
    them already (`cnnlab eval` evaluated the model a moment ago).
    """
    run = RunDir(Path(run_dir))
    config = loaded.config if loaded else run.read_config()  # errors when this is no run
    train = None
    try:
        loaded = loaded or load_run(run.path, device=device)
        if test is None:  # the caller holds no data: load it (the preview replays train)
            splits = run_data(loaded).splits
            test, train = splits.get("test"), splits.get("train")
    except CnnlabError as error:
        log.info("figures of the model or test images skipped: %s", error)
    class_names = loaded.class_names if loaded else None
    predictions = metrics = None
    if evaluated is not None:
        predictions, metrics = evaluated.predictions, evaluated.metrics
    else:
        try:
            predictions = run.read_predictions()
            metrics = run.read_test_metrics()
        except CnnlabError as error:
            log.info("figures of the predictions skipped: %s", error)
        if predictions is not None:
            class_names = class_names or predictions.class_names
            if not _fits(predictions, test, class_names):
                log.info("%s does not match the run's test split; not used", run.predictions_path())
                predictions = metrics = None
    return FigureInputs(
        epochs=run.read_epochs(),
        iterations=run.read_iterations(),
        class_names=class_names,
        model=loaded.model if loaded else None,
        test=test,
        predictions=predictions,
        metrics=metrics,
        scratch_weights=run.best_npz if run.best_npz.is_file() else None,
        model_name=config.model.name,
        train=train,
        config=config,
        vectors=vectors,
    )


def _fits(predictions, test, class_names) -> bool:
    """Whether saved predictions are of this test split (same length, labels and classes)."""
    if tuple(predictions.class_names) != tuple(class_names or ()):
        return False
    if test is None:
        return True
    try:
        positions = predictions.positions
    except CnnlabError:
        return False
    return len(positions) == len(test) and bool(
        np.all((positions >= 0) & (positions < len(test)))
        and np.array_equal(test.labels[positions], predictions.y_true)
    )


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
        split = run_data(loaded).split("test")
    pixels, labels, ids = resolve_images(images, split, loaded.in_shape, len(loaded.class_names))
    return render_feature_maps(
        loaded.model, loaded.class_names, pixels, labels, ids, layers, loaded.run.figures
    )
