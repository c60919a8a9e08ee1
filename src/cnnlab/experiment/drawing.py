"""A finished run's figures and report: the part of `finish` that needs Matplotlib.

Importing Matplotlib and the report's libraries costs about 0.4 s on a 2-core CPU, so the
training path does not import this module up front: `finish.preload_drawing` imports it on a
thread while the data loads (decompressing and reducing arrays, which frees the interpreter),
and `finish` imports it when it draws (waiting for that thread if it is still at work).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cnnlab.data.profile import profile_dataset
from cnnlab.experiment import tensorboard
from cnnlab.lrfind import LrFindResult
from cnnlab.lrfind.output import write_lr_find
from cnnlab.report import write_report
from cnnlab.runs import RunDir
from cnnlab.training.loop import History
from cnnlab.visualize import FIGURES, FigureInputs
from cnnlab.visualize.background import figures_alongside

if TYPE_CHECKING:
    from cnnlab.evaluate import EvalResult
    from cnnlab.experiment.finish import Phases
    from cnnlab.experiment.prepare import Prepared


def draw_and_report(
    prepared: Prepared,
    run: RunDir,
    history: History,
    result: EvalResult | None,
    lr_find: LrFindResult | None,
    phases: Phases,
) -> None:
    """Every figure from the objects at hand, then the report."""
    config, test = prepared.config, prepared.dataset.splits.get("test")
    inputs = FigureInputs(
        epochs=history.epochs,
        iterations=history.iterations,
        class_names=prepared.class_names,
        model=prepared.model,
        test=test,
        predictions=result.predictions if result else None,
        metrics=result.metrics if result else None,
        model_name=config.model.name,
        train=prepared.dataset.split("train"),
        config=config,
    )
    # the model-free figures are drawn by a child process while this one draws the model's
    # and profiles the data (both cores busy)
    with figures_alongside(run.path, inputs) as written:
        if lr_find is not None:
            written += write_lr_find(lr_find, run.figures)
        profile = profile_dataset(prepared.dataset)
    images = sum(split.size for split in profile.splits)
    phases.done(f"drew {len(written)} figure files in {run.figures}; profiled {images} images")
    if config.train.tensorboard:
        tensorboard.log_final(
            run.path, [name for name, entry in FIGURES.items() if entry.tensorboard]
        )
        phases.done(f"logged the figures to TensorBoard in {run.tensorboard}")
    _, html = write_report(
        run.path, model=prepared.model, dataset=prepared.dataset, profile=profile
    )
    phases.done(f"wrote the report {html}")
