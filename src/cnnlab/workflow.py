"""The verbs users run, composed from the stages: train, then evaluate, figures and report.

Each stage package only knows the stages to its left; this module is the one place that
knows them all, so `cnnlab.train(config)` can end with a report.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cnnlab.config import ExperimentConfig
from cnnlab.evaluate import evaluate_run
from cnnlab.lrfind import LrFindResult, lr_find, write_lr_find
from cnnlab.report import write_comparison, write_report
from cnnlab.runs import RunResult, experiment, tensorboard
from cnnlab.runs.rundir import RunDir
from cnnlab.scratch import experiment as scratch_experiment
from cnnlab.scratch.experiment import ScratchResult
from cnnlab.training.device import resolve_device
from cnnlab.training.distributed import topology_from_env
from cnnlab.visualize import write_figures


def evaluate(
    run_dir: Path, dataset: str | None = None, split: str = "test", device: str = "cpu"
) -> dict:
    """`cnnlab eval`: metrics and predictions into the run; figures too for its own test split."""
    metrics = evaluate_run(run_dir, dataset, split, device=device)
    if dataset is None and split == "test":
        write_figures(run_dir)
    return metrics


def finish_run(run_dir: Path, device: str = "cpu", *, tensorboard_log: bool = False) -> Path:
    """Evaluate a trained run on its test split, draw its figures and write its report.

    With `tensorboard_log`, the figures and the final metrics also go to TensorBoard.
    """
    evaluate_run(run_dir, device=device)
    write_figures(run_dir)
    if tensorboard_log:
        tensorboard.log_final(run_dir)
    _, html = write_report(run_dir)
    return html


def train(config: ExperimentConfig, *, quiet: bool = False, report: bool = True) -> RunResult:
    """Train one experiment; then evaluate it and write its report (unless `report=False`).

    With `train.lr_find`, the learning-rate range test runs first (on a throwaway model) and
    its plot and table go into the run's figures, so the report shows them.
    """
    main = topology_from_env().is_main  # under torchrun, rank 0 alone evaluates and reports
    range_test = _range_test(config, quiet) if config.train.lr_find and main else None
    result = experiment.train(config, quiet=quiet)
    if range_test is not None:
        write_lr_find(range_test, RunDir(result.run_dir).figures)
    if report and main:
        device = str(resolve_device(config.train.device))
        finish_run(result.run_dir, device, tensorboard_log=config.train.tensorboard)
    return result


def _range_test(config: ExperimentConfig, quiet: bool) -> LrFindResult:
    """The range test with the CLI's default range; prints the suggested rates."""
    result = lr_find(config)
    if not quiet:
        suggestion = result.suggestion
        print(
            f"lr-find: suggested lr {suggestion.steepest:.2e} (steepest descent), "
            f"{suggestion.min_over_10:.2e} (minimum / 10); training with {config.optim.lr:.2e}"
        )
    return result


def resume(run_dir: Path, *, quiet: bool = False, report: bool = True) -> RunResult:
    """Continue a run from its last checkpoint; then evaluate it and write its report."""
    result = experiment.resume(run_dir, quiet=quiet)
    if report and topology_from_env().is_main:
        train_config = result.config.train
        device = str(resolve_device(train_config.device))
        finish_run(result.run_dir, device, tensorboard_log=train_config.tensorboard)
    return result


def train_scratch(
    config: ExperimentConfig, *, quiet: bool = False, report: bool = True
) -> ScratchResult:
    """Train with the NumPy engine (`model.name` scratch:...); then its figures and report.

    The scratch run writes its own predictions.csv and metrics.json, so nothing is re-evaluated.
    """
    result = scratch_experiment.train(config, quiet=quiet)
    if report:
        write_figures(result.run_dir)
        write_report(result.run_dir)
    return result


def train_all(
    configs: Sequence[ExperimentConfig], *, quiet: bool = False, report: bool = True
) -> tuple[list[RunResult], Path | None]:
    """Train each config in turn; with several, also write their comparison page."""
    results = [train(config, quiet=quiet, report=report) for config in configs]
    comparison = None
    if report and len(results) > 1:
        out = Path(configs[0].out) / f"{_common_name(configs)}-comparison"
        _, comparison = write_comparison([r.run_dir for r in results], out)
    return results, comparison


def _common_name(configs: Sequence[ExperimentConfig]) -> str:
    names = [c.run_name for c in configs]
    prefix = names[0]
    for name in names[1:]:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    return prefix.rstrip("-_") or "runs"
