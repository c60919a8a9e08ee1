"""The training verbs as the driver composes them: train, resume, train several, range test.

Each verb builds the data and the model once and hands them from stage to stage; files are
what one command leaves for the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cnnlab.config import ExperimentConfig
from cnnlab.data import Dataset
from cnnlab.data.configured import load_configured
from cnnlab.experiment import engine
from cnnlab.experiment.prepare import prepare
from cnnlab.experiment.results import RunResult
from cnnlab.lrfind import LrFindResult, lr_find
from cnnlab.training.distributed import topology_from_env
from cnnlab.training.optim import check_optim


def range_test(
    config: ExperimentConfig,
    dataset: Dataset | None = None,
    *,
    start: float = 1e-7,
    end: float = 10.0,
    steps: int = 100,
) -> LrFindResult:
    """The learning-rate range test on a throwaway copy of the configured model and data."""
    check_optim(config.optim)
    prepared = prepare(config, dataset=dataset)
    return lr_find(
        prepared.model,
        prepared.optimizer,
        prepared.train_loader,
        optim=config.optim,
        seed=config.train.seed,
        start=start,
        end=end,
        steps=steps,
    )


def train(config: ExperimentConfig, *, quiet: bool = False, report: bool = True) -> RunResult:
    """Train one experiment; then evaluate it, draw its figures and write its report.

    With `train.lr_find`, the learning-rate range test runs first on a throwaway model (on
    the same loaded data) and its plot joins the run's figures and report.
    """
    if not (config.train.lr_find and topology_from_env().is_main):
        return engine.train(config, quiet=quiet, report=report)
    dataset = load_configured(config.data, config.train.seed)
    found = range_test(config, dataset)
    if not quiet:
        suggestion = found.suggestion
        print(
            f"lr-find: suggested lr {suggestion.steepest:.2e} (steepest descent), "
            f"{suggestion.min_over_10:.2e} (minimum / 10); training with {config.optim.lr:.2e}"
        )
    return engine.train(config, quiet=quiet, report=report, dataset=dataset, lr_find=found)


def resume(
    run_dir: Path, *, quiet: bool = False, report: bool = True, epochs: int | None = None
) -> RunResult:
    """Continue a run from its last checkpoint (with `epochs`, to that many epochs in all: a
    finished run trains further); then evaluate it and write its report."""
    return engine.resume(run_dir, quiet=quiet, report=report, epochs=epochs)


def train_all(
    configs: Sequence[ExperimentConfig], *, quiet: bool = False, report: bool = True
) -> tuple[list[RunResult], Path | None]:
    """Train each config in turn; with several, also write their comparison page."""
    results = [train(config, quiet=quiet, report=report) for config in configs]
    comparison = None
    if report and len(results) > 1:
        from cnnlab.report import write_comparison  # Matplotlib: only when there is a page

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
