"""A finished run's figures and report: the part of `finish` that needs Matplotlib.

Importing Matplotlib and the report's libraries costs about 0.4 s on a 2-core CPU, so the
training path does not import this module up front: `finish.preload_drawing` imports it on a
thread while the first steps train (mostly in torch, which frees the interpreter), and
`finish` imports it when it draws (waiting for that thread if it is still at work).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import nn

from cnnlab.data.profile import profile_dataset
from cnnlab.experiment import tensorboard
from cnnlab.lrfind import LrFindResult
from cnnlab.lrfind.output import write_lr_find
from cnnlab.report import write_report
from cnnlab.runs import RunDir
from cnnlab.training.loop import History
from cnnlab.visualize import FIGURES, FigureInputs
from cnnlab.visualize.background import FigureJob, drawable, figures_alongside

if TYPE_CHECKING:
    from cnnlab.evaluate import EvalResult
    from cnnlab.experiment.finish import Phases
    from cnnlab.experiment.prepare import Prepared


def early_figures(prepared: Prepared, run: RunDir, history: History) -> FigureJob:
    """Start drawing `early_names` in a forked child, so they draw while this process
    evaluates."""
    return FigureJob(run.path, _inputs(prepared, history, None), early_names(prepared.model))


def early_names(model: nn.Module) -> list[str]:
    """The figures that need no test predictions (the curves; on a CPU also the batch preview,
    filters and feature maps of the evaluated weights). With the model on a GPU the model's
    figures wait for the parent: a forked child cannot use CUDA."""
    on_cpu = all(parameter.device.type == "cpu" for parameter in model.parameters())
    return [
        name
        for name in drawable()
        if not FIGURES[name].uses_evaluation and (on_cpu or not FIGURES[name].uses_model)
    ]


def draw_and_report(
    prepared: Prepared,
    run: RunDir,
    history: History,
    result: EvalResult | None,
    lr_find: LrFindResult | None,
    phases: Phases,
    early: FigureJob,
) -> None:
    """Every figure `early` is not drawing, from the objects at hand, then the report."""
    config = prepared.config
    inputs = _inputs(prepared, history, result)
    # a child process draws the model-free figures while this one draws the model's and
    # profiles the data (both cores busy); then this one helps `early` finish
    rest = [name for name in drawable() if name not in early.queue.names]
    try:
        with figures_alongside(run.path, inputs, rest) as written:
            if lr_find is not None:
                written += write_lr_find(lr_find, run.figures)
            profile = profile_dataset(prepared.dataset)
    except BaseException:
        early.cancel()
        raise
    written += early.finish()
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


def _inputs(prepared: Prepared, history: History, result: EvalResult | None) -> FigureInputs:
    """What the figures are drawn from: the objects training and evaluation hold."""
    config = prepared.config
    return FigureInputs(
        epochs=history.epochs,
        iterations=history.iterations,
        class_names=prepared.class_names,
        model=prepared.model,
        test=prepared.dataset.splits.get("test"),
        predictions=result.predictions if result else None,
        metrics=result.metrics if result else None,
        model_name=config.model.name,
        train=prepared.dataset.split("train"),
        config=config,
    )
