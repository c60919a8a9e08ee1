"""The verbs on a saved run: evaluate it again (`cnnlab eval`), or evaluate, draw and report a
run trained without them (a search's best trial). Model and data are loaded once for all."""

from __future__ import annotations

from pathlib import Path

from cnnlab.data import Dataset
from cnnlab.evaluate import (
    EvalResult,
    evaluate_loaded,
    evaluation_split,
    pick_split,
    record_evaluation,
    require_all_classes,
    run_data,
)
from cnnlab.report import write_report
from cnnlab.runs import LoadedRun, RunDir, load_run
from cnnlab.runs.rundir import output_tag
from cnnlab.visualize import inputs_from_run, write_figures


def evaluate(
    run_dir: Path,
    dataset: str | None = None,
    split: str = "test",
    device: str = "cpu",
    leaderboard: bool = False,
) -> dict:
    """`cnnlab eval`: metrics and predictions into the run; figures too for its own test split.

    The model and data are loaded once and used for both. `leaderboard` also writes
    leaderboard.csv (`id,label`, class indices, the split's whole in its order).
    """
    run = RunDir(Path(run_dir))
    loaded = load_run(run.path, "best", device=device)
    tag = output_tag(dataset, split, loaded.config.data.dataset)
    if tag is None:
        if leaderboard:
            require_all_classes(loaded)
        _, result = _evaluate_and_draw(run, loaded, device)
    else:
        name, chosen = evaluation_split(loaded, dataset, split, whole=leaderboard)
        result = evaluate_loaded(loaded, chosen, name, split, device=device)
        record_evaluation(run, result, tag)
    if leaderboard:
        run.write_leaderboard(result.predictions, tag)
    return result.metrics


def _evaluate_and_draw(run: RunDir, loaded: LoadedRun, device: str) -> tuple[Dataset, EvalResult]:
    """Evaluate a loaded run on its own test split, record it and draw its figures."""
    name, data = loaded.config.data.dataset, run_data(loaded)
    test = pick_split(loaded, name, data, "test")
    result = evaluate_loaded(loaded, test, name, device=device)
    record_evaluation(run, result)
    inputs = inputs_from_run(run.path, device, loaded=loaded, test=test, evaluated=result)
    write_figures(run.path, inputs)
    return data, result


def finish_saved(run_dir: Path, device: str = "cpu") -> Path:
    """Evaluate a trained run, draw its figures and write its report (model and data loaded once);
    the report's HTML page. For runs trained without a report, such as a search's trials."""
    run = RunDir(Path(run_dir))
    loaded = load_run(run.path, "best", device=device)
    data, _ = _evaluate_and_draw(run, loaded, device)
    _, html = write_report(run.path, model=loaded.model, dataset=data)
    return html
