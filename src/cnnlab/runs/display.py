"""Runs as tables for notebooks: one row of key metrics per `RunResult`, as HTML or Markdown."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cnnlab.htmltable import html_table

if TYPE_CHECKING:
    from cnnlab.runs.experiment import RunResult

COLUMNS = (
    "run", "model", "status", "epochs", "best epoch", "train acc", "test acc", "test F1", "time"
)  # fmt: skip
NUMERIC = (False, False, False, True, True, True, True, True, True)


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
        _number(metrics.get("train_accuracy")),
        _number(metrics.get("test_accuracy")),
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


def format_epoch(row: dict[str, Any], epochs: int) -> str:
    """One readable line per epoch for the log and the console."""
    text = (
        f"epoch {row['epoch']:>3}/{epochs}  train loss {row['train_loss']:.4f}  "
        f"acc {row['train_accuracy']:.4f}  f1 {row['train_f1']:.4f}"
    )
    if row.get("val_loss") is not None:
        text += (
            f"  |  val loss {row['val_loss']:.4f}  acc {row['val_accuracy']:.4f}  "
            f"f1 {row['val_f1']:.4f}"
        )
    if row.get("test_accuracy") is not None:
        text += f"  |  test acc {row['test_accuracy']:.4f}"
    return text + f"  |  lr {row['lr']:.3g}  {row['epoch_seconds']:.1f}s"
