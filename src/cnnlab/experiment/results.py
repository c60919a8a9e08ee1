"""What a run produced (`RunResult`), and runs as tables: for notebooks (HTML or Markdown) and
for the console."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnnlab.htmltable import html_table

COLUMNS = (
    "run", "model", "status", "epochs", "best epoch", "epoch acc", "train acc", "test acc",
    "test bal acc", "test F1", "time",
)  # fmt: skip
NUMERIC = (False, False, False, True, True, True, True, True, True, True, True)


def summary_metrics(final: dict[str, Any], test: dict[str, Any] | None) -> dict[str, Any]:
    """The key numbers of a run, from final_metrics.json and evaluate's metrics.json."""
    keys = ("train_seconds", "final_train_accuracy", "test_eval_seconds")
    metrics = {k: final[k] for k in keys if k in final}
    if test:
        metrics["test_accuracy"] = test.get("accuracy")
        metrics["test_balanced_accuracy"] = test.get("balanced_accuracy")  # mean class recall
        metrics["test_f1"] = test.get("f1_macro")
        per_class = test.get("per_class") or []
        metrics["test_recall_per_class"] = {c["class"]: c.get("recall") for c in per_class}
    return metrics


@dataclass
class RunResult:
    """What a finished (or stopped) run produced.

    `metrics`: train_seconds, final_train_accuracy (the evaluated weights on training images),
    test_accuracy, test_balanced_accuracy, test_f1 and test_recall_per_class (evaluate's, as in
    metrics.json). The last epoch's running training accuracy is
    `history.epochs[-1]["train_accuracy"]`.
    """

    run_dir: Path
    status: str
    history: Any = field(repr=False)  # the engine's history: every epoch and iteration
    metrics: dict[str, float] = field(default_factory=dict)
    config: Any = None  # the ExperimentConfig it ran

    @property
    def running_train_accuracy(self) -> float | None:
        """The last epoch's training accuracy, measured while the weights moved."""
        epochs = self.history.epochs if self.history is not None else []
        return epochs[-1].get("train_accuracy") if epochs else None

    def _repr_html_(self) -> str:
        return results_html([self], caption=str(self.run_dir))

    def _repr_markdown_(self) -> str:
        return results_markdown([self])


def _number(value: float | None, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def result_cells(result: RunResult) -> list[str]:
    """One table row of `result`: name, model, status, epochs and its final metrics."""
    metrics = result.metrics
    seconds = metrics.get("train_seconds")
    return [
        result.run_dir.name,
        result.config.model.name if result.config else "",
        result.status,
        str(len(result.history.epochs)),
        _number(result.history.best_epoch, "d"),
        _number(result.running_train_accuracy),
        _number(metrics.get("final_train_accuracy")),
        _number(metrics.get("test_accuracy")),
        _number(metrics.get("test_balanced_accuracy")),
        _number(metrics.get("test_f1")),
        "-" if seconds is None else f"{seconds:.1f}s",
    ]


def results_html(results: Iterable[RunResult], caption: str = "") -> str:
    """The runs' key metrics as an HTML table."""
    return html_table(COLUMNS, [result_cells(r) for r in results], NUMERIC, caption)


def results_markdown(results: Iterable[RunResult]) -> str:
    """The runs' key metrics as a Markdown table."""
    rule = ["---:" if right else "---" for right in NUMERIC]
    lines = [COLUMNS, rule, *(result_cells(r) for r in results)]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


@dataclass(frozen=True, repr=False)
class RunTable:
    """Several runs side by side; Jupyter shows an HTML table, `print` a Markdown one."""

    results: tuple[RunResult, ...]

    def __str__(self) -> str:
        return results_markdown(self.results)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return results_html(self.results)

    def _repr_markdown_(self) -> str:
        return results_markdown(self.results)


def runs_table(results: Sequence[RunResult]) -> RunTable:
    """A table of the runs' key metrics that renders in notebooks (e.g. the demo's two runs)."""
    return RunTable(tuple(results))


def recall_line(result: RunResult, max_classes: int = 20) -> str | None:
    """ "test recall per class: cat 0.812, dog 0.744, ..." for the console, or None when the
    run has no test metrics or more than `max_classes` classes."""
    recalls = result.metrics.get("test_recall_per_class")
    if not recalls or len(recalls) > max_classes:
        return None
    cells = ", ".join(f"{name} {_number(value, '.3f')}" for name, value in recalls.items())
    return f"test recall per class: {cells}"


def console_table(results: Sequence[RunResult]) -> str:
    """The runs side by side as plain text, each column as wide as its longest cell."""
    rows = [list(COLUMNS), *(result_cells(result) for result in results)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    return "\n".join(
        "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(row, widths, NUMERIC, strict=True)
        ).rstrip()
        for row in rows
    )
